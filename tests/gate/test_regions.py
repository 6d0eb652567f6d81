"""The gate's region around its peak: shape cues that tell a line from a band from a blob, and native windows."""

from __future__ import annotations

import numpy as np
import pytest

from textile_defects.gate.regions import SHAPE_CUES, crop, gate_region, shape_cues, window_box

FRAME = (1280, 720)  # 80 x 45 cells of 16 px


def _map(rows: slice, cols: slice, seed: int = 0) -> np.ndarray:
    scores = np.random.default_rng(seed).normal(1.0, 0.05, size=(45, 80))
    scores[rows, cols] = 3.0
    return scores


def cue(cues: np.ndarray, name: str) -> float:
    return float(cues[SHAPE_CUES.index(name)])


def test_a_vertical_line_a_horizontal_band_and_a_blob_have_their_shapes() -> None:
    line = shape_cues(gate_region(_map(slice(5, 40), slice(30, 31)), FRAME, 1, 0.5), FRAME)
    band = shape_cues(gate_region(_map(slice(20, 23), slice(1, 79)), FRAME, 1, 0.5), FRAME)
    blob = shape_cues(gate_region(_map(slice(20, 24), slice(40, 44)), FRAME, 1, 0.5), FRAME)
    assert cue(line, "log_aspect") < -2 and cue(line, "orientation_cos2") < -0.9  # tall, vertical axis
    assert cue(band, "log_aspect") > 2 and cue(band, "orientation_cos2") > 0.9 and cue(band, "width_share") > 0.9
    assert abs(cue(blob, "log_aspect")) < 0.1 and cue(blob, "fill") == pytest.approx(1.0)
    assert cue(blob, "peak_contrast") > 2


def test_the_region_ignores_the_edge_ring_and_joins_only_cells_connected_to_the_peak() -> None:
    scores = _map(slice(10, 12), slice(10, 12))
    scores[0, :] = 9.0  # the edge ring: left out, as the image score leaves it out
    scores[30:32, 60:62] = 2.9  # a second, separate spot
    region = gate_region(scores, FRAME, 1, 0.5)
    assert region.peak[0] in (10, 11) and region.cells.sum() == 4
    assert region.box == (160, 160, 192, 192) and region.centre[0] in (168.0, 184.0)


def test_a_window_is_moved_inside_the_frame_and_keeps_native_pixels() -> None:
    frame = np.arange(720 * 1280 * 3, dtype=np.uint32).reshape(720, 1280, 3).astype(np.uint8)
    assert window_box((5.0, 700.0), FRAME, 224) == (0, 496, 224, 720)
    assert window_box((640.0, 360.0), (160, 90), 224) == (0, 0, 160, 90)
    box = window_box((640.0, 360.0), FRAME, 224)
    assert np.array_equal(crop(frame, box), frame[248:472, 528:752])
