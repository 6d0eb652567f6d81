"""Naming the defect in predict: the type classifier on the gate's region of each frame (docs/naming.md).

For each judged frame with a gate, the gate's patch map (already computed)
gives the region; its shape and profile cues are read from the frame at the
gate's size (numpy and scipy only: no torch, no encoder); the type
classifier's ranking reorders the classifier's defect probabilities
(:func:`textile_defects.naming.scores.reorder_defects`), so defective-or-good
stays the classifier's and the gate's, and the defect named is the type
classifier's. The region's box (frame pixels) goes into the CSV and onto the
``--heatmaps`` pictures.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from textile_defects.errors import ConfigError
from textile_defects.naming.checkpoint import load_type_model
from textile_defects.naming.cues import CUE_PARTS, region_and_cues
from textile_defects.naming.scores import reorder_defects
from textile_defects.predict.judges import FramePrediction, ModelsInfo

log = logging.getLogger("textile_defects.predict")

TYPE_FILE = "type.npz"
"""The type classifier used by default: this file beside the classifier checkpoint (train_type writes models/type.npz)."""
NAMINGS: tuple[str, ...] = ("type", "classifier")
"""``--naming``: the type classifier names the defect, or the classifier itself (docs/naming.md)."""


@dataclasses.dataclass(frozen=True)
class Named:
    """A prediction with its defect named by type, and the gate region's box (x0, y0, x1, y1) in frame pixels."""

    prediction: FramePrediction
    box: tuple[int, int, int, int] | None


class DefectNamer:
    """The type classifier of ``path`` for the models of ``info`` (refused when fitted on another gate)."""

    def __init__(self, path: Path, info: ModelsInfo, *, gate_sha256: str | None) -> None:
        self.model = load_type_model(path, gate_sha256=gate_sha256)
        defects = tuple(name for name in info.classes if name != info.good_class)
        if self.model.classes != defects:
            raise ConfigError(f"{path}: names {list(self.model.classes)}, the classifier's defect classes are {list(defects)}; re-run train_type.")
        if any(part not in CUE_PARTS for part in self.model.parts):
            raise ConfigError(f"{path}: reads {list(self.model.parts)}; predict computes only {list(CUE_PARTS)} (no encoder on the line).")
        if info.gate_size is None:
            raise ConfigError(f"{path}: naming by type needs the gate's map; run with a gate, or --naming classifier.")
        self.info = info
        self.path = path
        log.info("naming the defect with the type classifier %s (evidence %s)", path, list(self.model.parts))

    def name(self, prediction: FramePrediction, frame: np.ndarray) -> Named:
        """``prediction`` with its defect probabilities reordered by type; ``frame`` at the gate's size."""
        if prediction.probabilities is None or prediction.patch_map is None:
            return Named(prediction, None)
        region, cues = region_and_cues(frame, prediction.patch_map, self.model.parts, border_patches=self.model.border_patches, level=self.model.level)
        types = self.model.probabilities(cues[None])
        defects = self.model.classes
        reordered = reorder_defects(prediction.probabilities[None], self.info.classes, self.info.good_class, types, defects)[0]
        return Named(dataclasses.replace(prediction, probabilities=reordered), region.box)
