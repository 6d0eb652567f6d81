"""Where the gate looks: its patch maps against the defect masks, and heatmap sheets for people.

Shared by the CV's gate report and the hold-out report. A mask is a
``<masks_dir>/<source_file>`` image (non-zero = defect) with the photo's own
size, as the sample generator writes them; photos without one (good photos,
or a factory's photos nobody outlined) are simply not localised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from textile_defects.errors import DataError
from textile_defects.gate import metrics
from textile_defects.stats.proportions import counted

log = logging.getLogger(__name__)

def load_maps(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """``{original_id: (h, w) patch-score map}`` from the gate stages' ``maps_fold<k>.npz`` files."""
    maps: dict[str, np.ndarray] = {}
    for path in paths:
        with np.load(path) as archive:
            maps.update({key: archive[key] for key in archive.files})
    return maps


MASK_SUFFIXES: tuple[str, ...] = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
"""Image files a mask may be, in the order one is preferred when a photo has several (lossless first)."""


def find_mask(masks_dir: Path, source_file: str) -> Path | None:
    """The mask of photo ``source_file`` (``<class>/<name>.<ext>``): the same name with any image extension.

    A factory stores masks as PNG beside JPEG photos, or keeps the photo's own
    name; either is found (letter case of the extension ignored). None when
    the photo has no mask.
    """
    relative = Path(source_file)
    folder = masks_dir / relative.parent
    exact = masks_dir / relative
    if exact.is_file():
        return exact
    if not folder.is_dir():
        return None
    candidates = {path.suffix.lower(): path for path in folder.glob(f"{relative.stem}.*")
                  if path.is_file() and path.stem == relative.stem}  # fmt: skip
    return next((candidates[suffix] for suffix in MASK_SUFFIXES if suffix in candidates), None)


def read_masks(masks_dir: Path, rows: Mapping[str, Mapping[str, str]], good_class: str) -> dict[str, np.ndarray]:
    """``{original_id: (H, W) uint8}`` for each defect photo of ``rows`` (ingest manifest rows) that has a mask file.

    A photo's mask is found by its name with any image extension (:func:`find_mask`).
    A mask whose size is not its photo's is an error (it belongs to another photo).
    When defect photos exist and not one mask matches, a warning names the
    file names expected, so a misplaced folder is not mistaken for "no masks".
    """
    masks = {}
    defects = {original: row for original, row in sorted(rows.items()) if row["label"] != good_class}
    for original, row in defects.items():
        path = find_mask(masks_dir, row["source_file"])
        if path is None:
            continue
        with Image.open(path) as mask:
            pixels = np.asarray(mask.convert("L"))
        expected = (int(row["height"]), int(row["width"]))
        if pixels.shape != expected:
            raise DataError(
                f"{path}: mask is {pixels.shape[1]}x{pixels.shape[0]}, its photo {row['source_file']} is "
                f"{expected[1]}x{expected[0]}; a mask must outline its own photo (fix or remove it)."
            )
        masks[original] = pixels
    if defects and not masks:
        expected = [str(masks_dir / Path(row["source_file"]).with_suffix(".png")) for row in list(defects.values())[:3]]
        log.warning(
            "No defect mask found in %s for any of the %d defect photo(s); expected files such as %s "
            "(the photo's <class>/<name> with any image extension). Localisation is left out.",
            masks_dir, len(defects), ", ".join(expected),
        )
    return masks


def interior_map(patch_map: np.ndarray, border_patches: int) -> np.ndarray:
    """``patch_map`` with its ``border_patches`` edge rings lowered to its interior minimum.

    The image score leaves those rings out (zero padding and vignetted corners
    score high on good photos, docs/gate.md), so localisation looks where the
    score looks: a defect lying only in the ring is missed by both.
    """
    patch_map = np.asarray(patch_map, dtype=np.float64)
    b = border_patches
    if b == 0:
        return patch_map
    if 2 * b >= min(patch_map.shape):
        raise ValueError(f"a {patch_map.shape[0]}x{patch_map.shape[1]} patch map has no interior with border_patches={b}")
    interior = patch_map[b:-b, b:-b]
    lowered = np.full_like(patch_map, interior.min())
    lowered[b:-b, b:-b] = interior
    return lowered


def localisation_figures(
    maps: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
    order: Sequence[str],
    tolerance_px: int,
    confidence: float,
    border_patches: int = 0,
) -> dict[str, Any] | None:
    """Peak-in-mask share over the masked photos (exact interval) and pixel AUROC over all of ``order``; None without masks.

    The peak is taken where the image score looks (:func:`interior_map`); the
    pixel AUROC scores the whole map as drawn (lowering the ring would rank
    the pixels of bands that run to the frame's edge last).
    """
    if not masks:
        return None
    masked = sorted(masks)
    found = [metrics.peak_in_mask(interior_map(maps[o], border_patches), masks[o], tolerance_px) for o in masked]
    frame = next(iter(masks.values())).shape
    all_masks = [masks.get(o, np.zeros(frame, dtype=np.uint8)) for o in order]
    return {
        "peak_in_mask": counted(sum(found), len(found), confidence),
        "tolerance_px": tolerance_px,
        "border_patches": border_patches,
        "pixel_auroc": metrics.pixel_auroc([maps[o] for o in order], all_masks),
        "per_original": {o: bool(f) for o, f in zip(masked, found, strict=True)},
    }
