"""The evidence parts read from the gate's map and the frame's pixels alone: no encoder, no torch.

``shape`` (:func:`textile_defects.gate.regions.shape_cues`) and ``profile``
(:func:`textile_defects.naming.profile.profile_cues`) are what the default type
classifier reads, so naming a defect on a line PC needs numpy and scipy only
(predict computes them from the patch map its gate already gave).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from textile_defects.gate.regions import Region, gate_region, shape_cues
from textile_defects.naming.profile import profile_cues

SHAPE = "shape"
PROFILE = "profile"
CUE_PARTS: tuple[str, ...] = (SHAPE, PROFILE)
"""The parts this module computes."""


def cue(part: str, frame: np.ndarray, region: Region) -> np.ndarray:
    """One cue part of ``frame`` (H, W, 3) uint8 around ``region``."""
    if part == SHAPE:
        return shape_cues(region, (frame.shape[1], frame.shape[0]))
    if part == PROFILE:
        return profile_cues(frame, region)
    raise ValueError(f"{part!r} is not a cue part {CUE_PARTS}; window and frame parts need the encoder (naming.evidence)")


def region_and_cues(
    frame: np.ndarray, patch_map: np.ndarray, parts: Sequence[str], *, border_patches: int, level: float
) -> tuple[Region, np.ndarray]:
    """The gate's region in ``frame`` and the concatenated cue ``parts`` (float32), from a patch map already computed."""
    region = gate_region(patch_map, (frame.shape[1], frame.shape[0]), border_patches, level)
    return region, np.concatenate([cue(part, frame, region) for part in parts]).astype(np.float32)
