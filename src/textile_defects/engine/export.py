"""Checkpoint -> engine file: the classifier or the gate exported to ONNX, checked against PyTorch, written atomically.

The export traces :mod:`~textile_defects.engine.graphs` with torch's
``torch.export``-based exporter (``torch.onnx.export(..., dynamo=True)``,
opset 18; the TorchScript exporter cannot translate the head's antialiased
resize nor the gate's layer-picking), for one frame at a time at the model's
own frame size. Before anything is written, ONNX Runtime runs the new file on
a seeded probe frame and its answers are compared with the checkpoint's own
PyTorch path (:func:`~textile_defects.runtime.inference.probabilities`,
:meth:`~textile_defects.gate.model.Gate.patch_scores`); a file outside the
tolerances of :mod:`~textile_defects.engine.files` is refused, never written.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import textile_defects
from textile_defects.engine.files import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    PROBABILITY_TOLERANCE,
    SCORE_TOLERANCE,
    sha256_file,
)
from textile_defects.engine.graphs import ClassifierGraph, GateGraph
from textile_defects.engine.session import EngineClassifier, EngineGate
from textile_defects.errors import OutputError
from textile_defects.gate.checkpoint import PREPROCESSING as GATE_PREPROCESSING
from textile_defects.gate.checkpoint import load_gate
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.runtime.devices import resolve_device
from textile_defects.runtime.inference import probabilities
from textile_defects.utils.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

OPSET = 18
"""ONNX opset: 18 carries Resize's antialias attribute (the head's antialiased bilinear resize)."""
PROBE_SEED = 20261202


def probe_frame(image_size: tuple[int, int], seed: int = PROBE_SEED) -> np.ndarray:
    """A seeded (H, W, 3) uint8 frame for the export's check: smooth stripes plus noise, every value in use."""
    width, height = image_size
    rng = np.random.default_rng(seed)
    stripes = 128 + 60 * np.sin(np.arange(width) * 2 * np.pi / 7)[None, :, None] * np.ones((height, 1, 3))
    return np.clip(stripes + rng.normal(0, 30, size=(height, width, 3)), 0, 255).astype(np.uint8)


def _trace(graph: ClassifierGraph | GateGraph, frame: np.ndarray, outputs: list[str]) -> Any:
    """The ONNX model (``onnx.ModelProto``) of ``graph`` traced for one (1, H, W, 3) uint8 frame.

    The graph names its tracer (``strict_export``); left to itself the exporter tries the
    non-strict one first and falls back, paying for a failed trace. Either way the file is
    the one the exporter's own choice writes.
    """
    example = torch.from_numpy(frame[None].copy())
    for name in ("onnx_ir", "onnxscript"):  # their optimiser logs every folded constant at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's own deprecation and tracing notices
        captured = torch.export.export(graph.eval(), (example,), strict=graph.strict_export)
        program = torch.onnx.export(
            captured, (example,), input_names=["frames"], output_names=outputs, dynamo=True,
            opset_version=OPSET, verbose=False, optimize=True,
        )
    return _without_stack_traces(program.model_proto)


STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"
"""The exporter's per-node record of the Python source that made it: file paths of this checkout and line numbers."""


def _without_stack_traces(model: Any) -> Any:
    """``model`` with every node's :data:`STACK_TRACE_KEY` entry dropped, so the file's bytes do not
    depend on where the checkout lies or on lines moving in the source (the other node records stay)."""
    for graph in (model.graph, *model.functions):
        for node in graph.node:
            kept = [(entry.key, entry.value) for entry in node.metadata_props if entry.key != STACK_TRACE_KEY]
            del node.metadata_props[:]
            for key, value in kept:
                entry = node.metadata_props.add()
                entry.key, entry.value = key, value
    return model


def _described(model: Any, description: dict[str, Any]) -> bytes:
    """``model``'s bytes with ``description`` as its one metadata entry."""
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(description, sort_keys=True)
    return model.SerializeToString()


def _export_checked(target: Path, graph: ClassifierGraph | GateGraph, frame: np.ndarray, outputs: list[str],
                    description: dict[str, Any], check: Callable[[Path], dict[str, float]]) -> dict[str, float]:
    """Trace ``graph``, run ``check`` on the file (ONNX Runtime against PyTorch), then write it with the check's figures.

    The file is checked under a scratch name beside ``target`` and written only when
    ``check`` passes (it raises otherwise), atomically, so ``target`` is never a file that failed.
    """
    model = _trace(graph, frame, outputs)
    scratch = target.with_name(f".{target.name}.checking")
    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch.write_bytes(_described(model, {**description, "export_check": {}}))
    try:
        figures = check(scratch)
    finally:
        scratch.unlink(missing_ok=True)
    atomic_write_bytes(target, _described(model, {**description, "export_check": figures}))
    return figures


def _header(kind: str, checkpoint: Path, image_size: tuple[int, int], min_frame_size: tuple[int, int]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "source": {"name": checkpoint.name, "sha256": sha256_file(checkpoint)},
        "image_size": list(image_size),
        "min_frame_size": list(min_frame_size),
        "opset": OPSET,
        "versions": {"textile_defects": textile_defects.__version__, "torch": str(torch.__version__)},
    }


def export_classifier(checkpoint: str | Path, out: str | Path, *, min_frame_size: tuple[int, int]) -> dict[str, float]:
    """Export a classifier checkpoint to ``out``; returns the probe's largest probability difference from PyTorch."""
    source, target = Path(checkpoint), Path(out)
    model, meta = load_checkpoint(source, map_location="cpu")
    image_size = tuple(model.config.image_size)
    description = _header("classifier", source, image_size, min_frame_size)  # type: ignore[arg-type]
    description.update(classes=list(model.classes), good_class=meta["good_class"], preprocessing=meta["preprocessing"])
    frame = probe_frame(image_size)  # type: ignore[arg-type]
    expected = probabilities(model, [frame], resolve_device("cpu"))

    def check(path: Path) -> dict[str, float]:
        difference = float(np.abs(EngineClassifier(path).probabilities(frame[None]) - expected).max())
        if not difference <= PROBABILITY_TOLERANCE:
            raise OutputError(
                f"{source}: the exported classifier differs from PyTorch by {difference:.2e} in a probability "
                f"(tolerance {PROBABILITY_TOLERANCE:g}); not written. Run predict with --engine torch."
            )
        return {"max_abs_probability": difference}

    figures = _export_checked(target, ClassifierGraph(model), frame, ["probabilities"], description, check)
    log.info("exported %s -> %s (probe: largest probability difference %.1e)", source, target, figures["max_abs_probability"])
    return figures


def export_gate(checkpoint: str | Path, out: str | Path, *, min_frame_size: tuple[int, int]) -> dict[str, float]:
    """Export a gate checkpoint to ``out``; returns the probe's largest score difference from PyTorch, relative to the threshold."""
    source, target = Path(checkpoint), Path(out)
    gate, payload = load_gate(source)
    description = _header("gate", source, gate.image_size, min_frame_size)
    description.update(
        threshold=float(gate.threshold), border_patches=int(gate.border_patches), grid=payload["description"].get("grid"),
        encoder=payload["config"]["encoder"], layers=payload["config"]["layers"], preprocessing=GATE_PREPROCESSING,
    )
    frame = probe_frame(gate.image_size)
    expected_map = gate.patch_scores(frame)
    expected_score = gate.image_score(expected_map)

    def check(path: Path) -> dict[str, float]:
        scores, maps = EngineGate(path).score(frame[None])
        scale = max(abs(gate.threshold), 1e-12)
        difference = max(float(np.abs(maps[0] - expected_map).max()), abs(float(scores[0]) - expected_score)) / scale
        if not difference <= SCORE_TOLERANCE:
            raise OutputError(
                f"{source}: the exported gate differs from PyTorch by {difference:.2e} of its threshold in a score "
                f"(tolerance {SCORE_TOLERANCE:g}); not written. Run predict with --engine torch."
            )
        return {"max_score_difference_of_threshold": difference}

    figures = _export_checked(target, GateGraph(gate), frame, ["patch_scores", "image_scores"], description, check)
    log.info("exported %s -> %s (probe: largest score difference %.1e of the threshold)", source, target,
             figures["max_score_difference_of_threshold"])
    return figures
