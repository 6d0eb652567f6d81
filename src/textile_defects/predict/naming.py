"""Naming the defect in predict: the type classifier on the gate's region of each frame (docs/naming.md).

For each judged frame with a gate, the gate's patch map (already computed)
gives the region, laid over the frame at the type classifier's own size (the
camera's native pixels, ``naming.image_size``; the gate may read fewer), where
its shape and profile cues are read (numpy and scipy only: no torch, no encoder); the type
classifier's ranking reorders the classifier's defect probabilities
(:func:`textile_defects.naming.scores.reorder_defects`), so defective-or-good
stays the classifier's and the gate's, and the defect named is the type
classifier's. The region's box (frame pixels) goes into the CSV and onto the
``--heatmaps`` pictures.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.data.frames import Frame
from textile_defects.errors import ConfigError
from textile_defects.predict.judges import FramePrediction, Judge, ModelsInfo

log = logging.getLogger("textile_defects.predict")

TYPE_FILE = "type.npz"
"""The type classifier used by default: this file beside the classifier checkpoint (train_type writes models/type.npz)."""
NAMINGS: tuple[str, ...] = ("auto", "type", "mixed", "classifier")
"""``--naming``: type (the type classifier names the defect), mixed (the type classifier and the classifier
together, :mod:`textile_defects.naming.mix`), classifier (the classifier itself), auto (mixed when the type
classifier's file is found and a gate is in use, else classifier, saying why)."""
DEFAULT_TYPE_WEIGHT = 0.7
"""``--naming mixed``'s type weight by default: params.yaml ``mixed_naming.type_weight``, which the hold-out
scores (predict runs from a bundle without params.yaml; tests/predict/test_naming.py keeps the two equal)."""
DEFAULT_NAMING = "auto"
"""predict's default, set by the pre-registered hold-out comparisons (docs/naming.md): both namers (mixed),
where the type classifier and a gate are there; else the classifier, saying why."""


@dataclasses.dataclass(frozen=True)
class Named:
    """A prediction with its defect named by type, and the gate region's box (x0, y0, x1, y1) in frame pixels."""

    prediction: FramePrediction
    box: tuple[int, int, int, int] | None


class DefectNamer:
    """The type classifier of ``path`` for the models of ``info`` (refused when fitted on another gate)."""

    def __init__(self, path: Path, info: ModelsInfo, *, gate_sha256: str | None, type_weight: float = 1.0) -> None:
        # Imported here: the cues need scipy, which a bundle naming with the classifier does not install.
        from textile_defects.naming.checkpoint import load_type_model
        from textile_defects.naming.cues import CUE_PARTS

        self.model = load_type_model(path, gate_sha256=gate_sha256)
        defects = tuple(name for name in info.classes if name != info.good_class)
        if self.model.classes != defects:
            raise ConfigError(f"{path}: names {list(self.model.classes)}, the classifier's defect classes are {list(defects)}; re-run train_type.")
        if any(part not in CUE_PARTS for part in self.model.parts):
            raise ConfigError(f"{path}: reads {list(self.model.parts)}; predict computes only {list(CUE_PARTS)} (no encoder on the line).")
        if info.gate_size is None:
            raise ConfigError(f"{path}: naming by type needs the gate's map; run with a gate, or --naming classifier.")
        if not 0.0 <= type_weight <= 1.0:
            raise ConfigError(f"--type-weight must lie in [0, 1] (1: the type classifier alone), got {type_weight}")
        self.info = info
        self.path = path
        self.type_weight = type_weight
        self.image_size: tuple[int, int] = self.model.image_size or info.gate_size
        """The frame size the type classifier reads (files written before naming.image_size: the gate's)."""
        mixed = "" if type_weight == 1.0 else f", mixed with the classifier's at type weight {type_weight:g}"
        log.info("naming the defect with the type classifier %s (evidence %s%s)", path, list(self.model.parts), mixed)

    def name(self, prediction: FramePrediction, frame: np.ndarray) -> Named:
        """``prediction`` with its defect probabilities reordered by type; ``frame`` at :attr:`image_size`."""
        from textile_defects.naming.cues import region_and_cues
        from textile_defects.naming.mix import mixed_naming

        if prediction.probabilities is None or prediction.patch_map is None:
            return Named(prediction, None)
        region, cues = region_and_cues(frame, prediction.patch_map, self.model.parts, border_patches=self.model.border_patches, level=self.model.level)
        types = self.model.probabilities(cues[None])
        defects = self.model.classes
        # type_weight 1 ranks by the type classifier alone (mixed_naming then equals reorder_defects).
        reordered = mixed_naming(prediction.probabilities[None], self.info.classes, self.info.good_class, types, defects, self.type_weight)[0]
        return Named(dataclasses.replace(prediction, probabilities=reordered), region.box)


class NamingJudge(Judge):
    """``inner``'s predictions, each defect named by ``namer`` from the frame at its own size."""

    def __init__(self, inner: Judge, namer: DefectNamer) -> None:
        self.inner = inner
        self.namer = namer
        self.info = dataclasses.replace(inner.info, names_by_type=True, naming_size=namer.image_size)

    def judge(self, frames: Sequence[Frame]) -> list[FramePrediction]:
        size = self.namer.image_size
        named = []
        for frame, prediction in zip(frames, self.inner.judge(frames), strict=True):
            if not self._maybe_defective(prediction):
                named.append(prediction)  # good by every rule: nothing to name (most frames on a line)
                continue
            result = self.namer.name(prediction, frame.pixels[size])
            named.append(dataclasses.replace(result.prediction, region_box=result.box))
        return named

    def _maybe_defective(self, prediction: FramePrediction) -> bool:
        """Defective by some rule: the gate above its threshold, or the classifier's argmax a defect."""
        if prediction.probabilities is None:
            return False
        gate_says = prediction.anomaly_score is not None and self.info.threshold is not None and prediction.anomaly_score > self.info.threshold
        return gate_says or self.info.classes[int(prediction.probabilities.argmax())] != self.info.good_class


def with_naming(judge: Judge, naming: str, type_file: Path | None, gate_sha256: str | None, type_weight: float = 1.0) -> Judge:
    """``judge`` as ``--naming`` asks: the type classifier of ``type_file`` naming the defect (mixed with the
    classifier's naming at ``type_weight`` under ``mixed``), or the classifier."""
    if naming == "classifier":
        return judge
    if naming == "auto":
        missing = "no anomaly gate" if judge.info.gate_size is None else None
        if missing is None and (type_file is None or not type_file.is_file()):
            missing = f"no type classifier {type_file or TYPE_FILE} (dvc repro train_type)"
        if missing is not None:
            log.info("the classifier names the defect: %s", missing)
            return judge
        naming = "mixed"
    if type_file is None or not type_file.is_file():
        raise ConfigError(
            f"--naming {naming} needs the type classifier ({type_file or TYPE_FILE}): build it with `dvc repro train_type`, "
            "pass --type PATH, or name with the classifier (--naming classifier)."
        )
    weight = type_weight if naming == "mixed" else 1.0
    return NamingJudge(judge, DefectNamer(type_file, judge.info, gate_sha256=gate_sha256, type_weight=weight))


def gate_sha256_of(judge: Judge, gate_checkpoint: Path | None) -> str | None:
    """The SHA-256 of the gate checkpoint ``judge`` runs (an engine file records its source's)."""
    engine_gate = getattr(judge, "gate", None)
    info = getattr(engine_gate, "info", None)
    if info is not None and getattr(info, "source_sha256", None):
        return str(info.source_sha256)
    if gate_checkpoint is not None and gate_checkpoint.is_file():
        from textile_defects.data.manifest import sha256_file

        return sha256_file(gate_checkpoint)
    return None
