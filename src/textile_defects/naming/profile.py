"""How thick the defect is across its long axis, at native pixels, in units of the fabric's own stitch.

The gate's map has a 16 px stride: a one-course lycra cut and a two-course
two-ply band look alike there. The stored frame resolves them. Across the
region's long axis (rows for a horizontal region, columns for a vertical one)
the grey level is averaged along the axis in short segments (so a slightly
skewed line stays sharp in each), smoothed over one knit period (so the loops'
own texture cancels), and compared with its running median (shading). Where
the deviation peaks inside the region, its width at half height is measured
and divided by the knit period: a one-course cut is about one period thick, a
band two to six, on any fabric, whatever its stitch size in pixels.

:data:`PROFILE_CUES` names what :func:`profile_cues` returns.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from textile_defects.gate.regions import Region

PROFILE_CUES: tuple[str, ...] = ("log_thickness_periods", "signed_contrast", "texture_ratio")
"""The profile cues :func:`profile_cues` returns, in order."""
# numpy and scipy only: naming on a line PC needs no torch and no OpenCV.

SEGMENT_PERIODS = 12
"""Segment length along the long axis, in knit periods: long enough to average the loops, short enough that a 5 degree skew moves the line by under one period."""

BASELINE_PERIODS = 25
"""Window of the running median that stands for the fabric without the defect, in knit periods: a band under half of it (12 courses) leaves the median alone."""


def _grey(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def knit_period(frame: np.ndarray) -> tuple[float, float]:
    """The fabric's dominant repeat (px horizontally, px vertically), from the grey image's power spectrum.

    Used to paste a defect only onto fabric of about its own stitch size: a
    patch of large loops in small ones shows a seam whatever the blending.
    """
    grey = _grey(frame)
    grey -= grey.mean()
    spectrum = np.abs(np.fft.rfft2(grey)) ** 2
    height, width = grey.shape
    periods = []
    for profile, extent in ((spectrum.sum(axis=0), width), (spectrum[: height // 2].sum(axis=1), height)):
        profile = profile.copy()
        # Repeats longer than 1/32 of the frame are its shading and vignetting, not the knit.
        profile[: max(3, extent // 32)] = 0
        frequency = int(np.argmax(profile[: extent // 2]))
        periods.append(extent / max(frequency, 1))
    return periods[0], periods[1]


def _segment_cue(profile: np.ndarray, period: float, low: int, high: int) -> tuple[float, float, float] | None:
    """(thickness in periods, signed contrast, texture ratio) of one across-axis profile; None when flat."""
    size = max(2, int(round(period)))
    smooth = ndimage.uniform_filter1d(profile, size, mode="reflect")
    baseline = ndimage.median_filter(smooth, size=max(3, int(round(BASELINE_PERIODS * period))) | 1, mode="reflect")
    deviation = smooth - baseline
    # Texture: the loops' own contrast (profile minus its one-period mean), locally.
    texture = ndimage.uniform_filter1d((profile - smooth) ** 2, size, mode="reflect")
    low, high = max(0, low), min(len(profile), high)
    if high - low < 1:
        return None
    peak = low + int(np.argmax(np.abs(deviation[low:high])))
    height = float(deviation[peak])
    outside = np.concatenate([deviation[: max(0, low - size)], deviation[high + size :]])
    if outside.size < 3 * size:
        outside = deviation
    spread = float(np.median(np.abs(outside - np.median(outside)))) * 1.4826 or 1e-6
    if abs(height) < 1e-6:
        return None
    half = abs(height) / 2
    same = np.sign(deviation) == np.sign(height)
    start = peak
    while start > 0 and same[start - 1] and abs(deviation[start - 1]) >= half:
        start -= 1
    stop = peak
    while stop < len(deviation) - 1 and same[stop + 1] and abs(deviation[stop + 1]) >= half:
        stop += 1
    width = stop - start + 1
    band = slice(start, stop + 1)
    texture_out = float(np.median(texture[np.r_[: max(0, start - size), min(len(texture), stop + 1 + size) : len(texture)]])) if len(texture) > width + 2 * size else float(np.median(texture))
    ratio = np.log((float(texture[band].mean()) + 1e-3) / (texture_out + 1e-3))
    return width / period, height / spread, float(ratio)


def profile_cues(frame: np.ndarray, region: Region) -> np.ndarray:
    """:data:`PROFILE_CUES` (float32) of ``frame`` (H, W, 3) uint8 across ``region``'s long axis.

    The long axis is the longer side of the region's box. Each segment's
    cues are measured and the median over the segments is returned; signed
    contrast is compressed as sign * log(1 + |c|).
    """
    x0, y0, x1, y1 = region.box
    grey = _grey(frame)
    period_x, period_y = knit_period(frame)
    if x1 - x0 >= y1 - y0:
        # Horizontal: profiles over rows, segments along x; the period across is the vertical one.
        image, period, along, across = grey, period_y, (x0, x1), (y0, y1)
    else:
        image, period, along, across = grey.T, period_x, (y0, y1), (x0, x1)
    length = max(4, int(round(SEGMENT_PERIODS * period)))
    starts = range(along[0], max(along[0] + 1, along[1] - length + 1), length)
    cues = []
    for start in starts:
        stop = min(image.shape[1], start + length)
        profile = image[:, start:stop].mean(axis=1)
        cue = _segment_cue(profile, period, across[0], across[1])
        if cue is not None:
            cues.append(cue)
    if not cues:
        return np.zeros(len(PROFILE_CUES), dtype=np.float32)
    thickness, contrast, ratio = np.median(np.array(cues), axis=0)
    return np.array([np.log(max(thickness, 1e-3)), np.sign(contrast) * np.log1p(abs(contrast)), ratio], dtype=np.float32)
