"""Judging frames: the classifier's probabilities and the gate's scores and patch maps, on either engine.

A :class:`Judge` takes frames decoded once (:mod:`textile_defects.data.frames`,
prepared at each model's size) and returns one :class:`FramePrediction` per
frame: the class probabilities and, with a gate, the anomaly score and the
gate's patch-score map (kept for heatmaps and for naming the defect from the
gate's evidence). Two implementations give the same answers within the
engine's stated tolerances (docs/engine.md):

- :class:`EngineJudge`: ONNX Runtime on the exported files (no torch import);
- :class:`TorchJudge`: the checkpoints themselves in PyTorch (the fallback, and on CUDA).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.data.frames import Frame

log = logging.getLogger("textile_defects.predict")

ENGINES: tuple[str, ...] = ("auto", "onnx", "torch")
"""``--engine``: auto (ONNX Runtime on CPU when the engine files are there, else PyTorch), onnx, or torch."""


@dataclass(frozen=True)
class FramePrediction:
    """One file's outcome: (C,) class probabilities and the gate's view, or why it was not judged.

    ``anomaly_score`` and ``patch_map`` ((h, w) float32 patch scores) are None without a gate.
    """

    path: Path
    probabilities: np.ndarray | None
    error: str | None = None
    anomaly_score: float | None = None
    patch_map: np.ndarray | None = None
    region_box: tuple[int, int, int, int] | None = None
    """With the type classifier naming the defect: the gate region's box (x0, y0, x1, y1) in gate-frame pixels."""


@dataclass(frozen=True)
class ModelsInfo:
    """What a judge runs: classes, good class, frame sizes, the gate's threshold and ingest's smallest frame."""

    engine: str
    classes: tuple[str, ...]
    good_class: str
    classifier_size: tuple[int, int]
    gate_size: tuple[int, int] | None
    threshold: float | None
    min_frame_size: tuple[int, int] | None
    """Ingest's smallest accepted frame as recorded at export (None: the torch path knows none)."""
    names_by_type: bool = False
    """The type classifier names the defect (:mod:`textile_defects.predict.naming`), not the classifier."""
    naming_size: tuple[int, int] | None = None
    """The frame the type classifier reads its evidence at (the camera's native pixels), when it names."""

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """The frame sizes to prepare, each once: the classifier's, the gate's, the type classifier's."""
        sizes = [self.classifier_size]
        for size in (self.gate_size, self.naming_size):
            if size is not None and size not in sizes:
                sizes.append(size)
        return sizes


class Judge:
    """Classifier and (optional) gate on one engine; :meth:`judge` maps frames to predictions."""

    info: ModelsInfo

    def judge(self, frames: Sequence[Frame]) -> list[FramePrediction]:
        probabilities = self._probabilities([frame.pixels[self.info.classifier_size] for frame in frames])
        if self.info.gate_size is None:
            return [FramePrediction(frame.path, p) for frame, p in zip(frames, probabilities, strict=True)]
        scores, maps = self._gate([frame.pixels[self.info.gate_size] for frame in frames])
        return [
            FramePrediction(frame.path, p, anomaly_score=float(score), patch_map=patch_map)
            for frame, p, score, patch_map in zip(frames, probabilities, scores, maps, strict=True)
        ]

    def _probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _gate(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError


class EngineJudge(Judge):
    """ONNX Runtime on a classifier's and a gate's engine files (checked against their checkpoints when given)."""

    def __init__(
        self,
        classifier_file: Path,
        gate_file: Path | None,
        *,
        classifier_checkpoint: Path | None = None,
        gate_checkpoint: Path | None = None,
        good_class: str | None = None,
    ) -> None:
        from textile_defects.engine.files import check_source
        from textile_defects.engine.session import EngineClassifier, EngineGate

        self.classifier = EngineClassifier(classifier_file)
        if classifier_checkpoint is not None:
            check_source(self.classifier.info, classifier_checkpoint)
        self.gate = EngineGate(gate_file) if gate_file is not None else None
        if self.gate is not None and gate_checkpoint is not None:
            check_source(self.gate.info, gate_checkpoint)
        minimums = {self.classifier.info.min_frame_size} | ({self.gate.info.min_frame_size} if self.gate else set())
        if len(minimums) > 1:
            log.warning("the engine files record different smallest frames %s: the largest applies", sorted(minimums))
        self.info = ModelsInfo(
            engine="onnxruntime",
            classes=self.classifier.classes,
            good_class=good_class or self.classifier.info.good_class,
            classifier_size=self.classifier.image_size,
            gate_size=self.gate.image_size if self.gate else None,
            threshold=self.gate.threshold if self.gate else None,
            min_frame_size=max(minimums),
        )

    def _probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        return self.classifier.probabilities(np.stack(images))

    def _gate(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        assert self.gate is not None
        return self.gate.score(np.stack(images))


class TorchJudge(Judge):
    """The checkpoints themselves in PyTorch: today's arithmetic, on CPU or CUDA."""

    def __init__(self, model: Any, meta: dict[str, Any], device: str, gate_checkpoint: Path | None, good_class: str | None) -> None:
        # Imported here: a bundle on a line PC runs without torch (EngineJudge).
        from textile_defects.runtime.devices import resolve_device

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device.device)
        self.gate = None
        if gate_checkpoint is not None:
            from textile_defects.gate.checkpoint import load_gate

            self.gate, _ = load_gate(gate_checkpoint)
        self.info = ModelsInfo(
            engine="pytorch",
            classes=tuple(model.classes),
            good_class=good_class or meta["good_class"],
            classifier_size=tuple(model.config.image_size),  # type: ignore[arg-type]
            gate_size=self.gate.image_size if self.gate else None,
            threshold=self.gate.threshold if self.gate else None,
            min_frame_size=None,
        )

    def _probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        from textile_defects.runtime.inference import probabilities

        return probabilities(self.model, images, self.device)

    def _gate(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        assert self.gate is not None
        maps = [self.gate.patch_scores(image) for image in images]
        return np.array([self.gate.image_score(m) for m in maps], dtype=np.float64), maps
