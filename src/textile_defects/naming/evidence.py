"""What the type classifier sees of a frame: the gate's region and native-pixel windows around its peak.

The evidence is read from the frame at ``naming.image_size`` (the camera's
native pixels), whatever size the gate reads: the gate's patch map is laid over
that frame (a map cell covers frame width / map width pixels), so a lighter
gate still points at the defect while its shape and profile are measured at
full resolution.

The whole-frame classifiers read the 1270x720 frame squeezed to 224x224, where
a lycra cut or a needle line is a pixel or two. Here the gate (built from good
photos only, so fair on any defect photo, training ones included) says where
to look, and the evidence is taken there (:mod:`textile_defects.gate.regions`):

- ``shape``: the region's shape cues (extent, aspect, fill, orientation, size);
- ``profile``: its thickness across the long axis at native pixels, in knit
  periods, with its signed contrast and texture (:mod:`textile_defects.naming.profile`);
- ``window<side>``: the frozen ImageNet encoder's pooled features of a
  ``side`` x ``side`` window of the stored frame around the peak, brought to
  the encoder's own input by area averaging when larger (224 = native pixels);
- ``frame``: the same encoder's features of the whole frame squeezed to its
  input (what the linear probe reads), for comparison.

No mask is read: a factory has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from textile_defects.data.images import prepare_image
from textile_defects.errors import ConfigError
from textile_defects.gate.features import normalise
from textile_defects.gate.model import Gate
from textile_defects.gate.regions import Region, crop, gate_region, window_box
from textile_defects.models.registry import EncoderSpec, build_encoder
from textile_defects.naming.cues import CUE_PARTS, PROFILE, SHAPE, cue
from textile_defects.utils.logs import progress

FRAME = "frame"
WINDOW = "window"


def window_part(side: int) -> str:
    """The evidence part name of a ``side`` px window."""
    return f"{WINDOW}{side}"


def window_side(part: str) -> int | None:
    """The window side of an evidence part name, None for another part."""
    if part.startswith(WINDOW) and part[len(WINDOW):].isdigit():
        return int(part[len(WINDOW):])
    return None


def check_parts(parts: Sequence[str], key: str = "naming.evidence") -> tuple[str, ...]:
    """``parts`` validated: shape, profile, frame or window<side> (side >= 32), at least one, no repeats."""
    bad = [part for part in parts if part not in (SHAPE, PROFILE, FRAME) and (window_side(part) or 0) < 32]
    if bad or not parts or len(set(parts)) != len(parts):
        raise ConfigError(
            f"{key}: got {list(parts)}; expected distinct parts among 'shape', 'profile', 'frame' and 'window<side>' "
            "(side in pixels >= 32, e.g. window224, window448)."
        )
    return tuple(parts)


@dataclass(frozen=True)
class Evidence:
    """One frame's evidence: its parts' feature vectors and the gate region they came from."""

    parts: dict[str, np.ndarray]
    region: Region
    windows: dict[str, tuple[int, int, int, int]]
    """The window box (x0, y0, x1, y1) of each window part, in frame pixels."""

    def vector(self, parts: Sequence[str]) -> np.ndarray:
        """The parts' features concatenated in ``parts`` order (float32)."""
        return np.concatenate([self.parts[part] for part in parts]).astype(np.float32)


class EvidenceExtractor:
    """Computes :class:`Evidence` for frames: the gate's map, then windows through a frozen encoder.

    ``encoder`` is a registry encoder (pooled features, any input size) with
    its ``spec``, needed only by the ``window<side>`` and ``frame`` parts (None
    for ``shape`` and ``profile``, which read the gate's map and the pixels);
    ``level`` is the region's rise (:func:`gate_region`); ``image_size`` (W, H)
    the frame the evidence is read at (default: the gate's).
    """

    def __init__(
        self,
        gate: Gate,
        encoder: torch.nn.Module | None,
        spec: EncoderSpec | None,
        parts: Sequence[str],
        level: float,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        self.gate = gate
        self.image_size: tuple[int, int] = tuple(image_size or gate.image_size)  # type: ignore[assignment]
        self.parts = check_parts(parts)
        needs_encoder = [part for part in self.parts if part not in CUE_PARTS]
        if needs_encoder and (encoder is None or spec is None):
            raise ConfigError(f"naming.evidence: {needs_encoder} read an ImageNet encoder; none was given.")
        self.encoder = None if encoder is None else encoder.eval()
        self.spec = spec
        self.level = float(level)

    @torch.inference_mode()
    def _pooled(self, pixels: np.ndarray) -> np.ndarray:
        assert self.encoder is not None and self.spec is not None  # checked in __init__
        side = self.spec.input_size
        batch = normalise(pixels[None], self.spec.mean, self.spec.std)
        if batch.shape[-1] > side or batch.shape[-2] > side:
            batch = F.interpolate(batch, size=(side, side), mode="area")
        return self.encoder(batch).flatten(1)[0].float().numpy()

    def from_frame(self, frame: np.ndarray, patch_map: np.ndarray | None = None, gate_frame: np.ndarray | None = None) -> Evidence:
        """Evidence of one (H, W, 3) uint8 frame at :attr:`image_size`.

        ``patch_map``: the gate's map of it, when already computed; else the gate
        scores ``gate_frame`` (the same photo at the gate's size), or ``frame``
        itself when both sizes agree.
        """
        size = self.image_size
        if frame.shape[:2] != (size[1], size[0]):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}; the evidence is read at {size[0]}x{size[1]}")
        if patch_map is None:
            if gate_frame is None and size != tuple(self.gate.image_size):
                raise ValueError(f"no patch map and no frame at the gate's size {self.gate.image_size} to compute it from")
            patch_map = self.gate.patch_scores(frame if gate_frame is None else gate_frame)
        scores = patch_map
        region = gate_region(scores, size, self.gate.border_patches, self.level)
        parts: dict[str, np.ndarray] = {}
        windows: dict[str, tuple[int, int, int, int]] = {}
        for part in self.parts:
            if part in CUE_PARTS:
                parts[part] = cue(part, frame, region)
            elif part == FRAME:
                assert self.spec is not None  # checked in __init__
                squeezed = F.interpolate(
                    torch.from_numpy(np.array(frame, copy=True)).permute(2, 0, 1)[None].float(),
                    size=(self.spec.input_size, self.spec.input_size), mode="area",
                )[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()  # fmt: skip
                parts[part] = self._pooled(squeezed)
            else:
                box = window_box(region.centre, size, int(window_side(part) or 0))
                windows[part] = box
                parts[part] = self._pooled(crop(frame, box))
        return Evidence(parts=parts, region=region, windows=windows)

    def read(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        """``path`` through the project's one preprocessing: at :attr:`image_size`, and at the gate's size where that differs."""
        gate_size = tuple(self.gate.image_size)
        return prepare_image(path, self.image_size), None if gate_size == self.image_size else prepare_image(path, gate_size)

    def from_files(self, paths: Iterable[Path], *, desc: str = "naming evidence") -> list[Evidence]:
        """Evidence of image files, their gate maps computed here."""
        return [self.from_frame(frame, gate_frame=gate_frame) for frame, gate_frame in map(self.read, progress(list(paths), desc=desc, unit="img"))]


def extractor_for(
    gate: Gate, parts: Sequence[str], level: float, encoder: str, weights: str, image_size: tuple[int, int] | None = None
) -> EvidenceExtractor:
    """An extractor for ``parts`` at ``image_size`` (default the gate's), building the frozen ``encoder`` only when a part reads it."""
    parts = check_parts(parts)
    if all(part in CUE_PARTS for part in parts):
        return EvidenceExtractor(gate, None, None, parts, level, image_size)
    module, spec = build_encoder(encoder, weights)
    return EvidenceExtractor(gate, module, spec, parts, level, image_size)
