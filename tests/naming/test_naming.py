"""Naming the defect: evidence at the gate's peak on a tiny gate, and the type classifier's arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.errors import ConfigError, DataError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.models.registry import build_encoder
from textile_defects.naming.evidence import EvidenceExtractor, check_parts
from textile_defects.naming.model import fit_type_model
from tests.helpers.gate import tiny_gate_and_photos


def test_evidence_looks_where_the_gate_points(tmp_path: Path) -> None:
    gate_path, photos = tiny_gate_and_photos(tmp_path)
    gate, _ = load_gate(gate_path)
    encoder, spec = build_encoder("efficientnet_lite0", "none")
    extractor = EvidenceExtractor(gate, encoder, spec, ["shape", "window64", "frame"], level=0.5)
    good, spotted = extractor.from_files([photos / "good.png", photos / "spotted.png"])
    # The spot covers x 70-95, y 40-60: the peak and the 64 px window are on it.
    x, y = spotted.region.centre
    assert 60 <= x <= 105 and 30 <= y <= 70
    x0, y0, x1, y1 = spotted.windows["window64"]
    assert (x1 - x0, y1 - y0) == (64, 64) and x0 <= 70 and x1 >= 95
    assert spotted.vector(["shape", "window64"]).shape == (10 + spec.feature_dim,)
    assert spotted.parts["frame"].shape == (spec.feature_dim,) and good.parts["shape"].shape == (10,)


def test_evidence_at_another_size_than_the_gate_reads_lays_the_gate_map_over_that_frame(tmp_path: Path) -> None:
    gate_path, photos = tiny_gate_and_photos(tmp_path)  # the gate reads 160x96
    gate, _ = load_gate(gate_path)
    extractor = EvidenceExtractor(gate, None, None, ["shape", "profile"], level=0.5, image_size=(320, 192))
    assert extractor.image_size == (320, 192)
    (spotted,) = extractor.from_files([photos / "spotted.png"])
    # The spot covers x 70-95, y 40-60 of the 160x96 photo: x 140-190, y 80-120 of the frame the evidence reads.
    x, y = spotted.region.centre
    assert 120 <= x <= 210 and 60 <= y <= 140
    assert spotted.region.stride == pytest.approx((2 * gate.image_size[0] / 10, 2 * gate.image_size[1] / 6), rel=0.5)
    # The same evidence from the map the gate stage wrote, the photo read only at the evidence's size.
    frame, gate_frame = extractor.read(photos / "spotted.png")
    assert frame.shape == (192, 320, 3) and gate_frame is not None and gate_frame.shape == (96, 160, 3)
    again = extractor.from_frame(frame, gate.patch_scores(gate_frame))
    assert np.array_equal(again.vector(["shape", "profile"]), spotted.vector(["shape", "profile"]))
    # Without a map, a frame of another size than the gate's cannot be scored by the gate.
    with pytest.raises(ValueError, match="gate's size"):
        extractor.from_frame(frame)


def test_parts_are_checked() -> None:
    assert check_parts(["window224", "shape"]) == ("window224", "shape")
    for bad in ([], ["window8"], ["shape", "shape"], ["tiles"]):
        with pytest.raises(ConfigError, match="naming.evidence"):
            check_parts(bad)


def test_the_type_model_separates_what_it_saw_and_needs_every_class() -> None:
    rng = np.random.default_rng(0)
    centres = {"hole": (3.0, 0.0), "lycra_cut": (0.0, 3.0), "needle": (-3.0, 0.0)}
    labels = [name for name in centres for _ in range(6)]
    features = np.stack([np.array(centres[name]) + rng.normal(0, 0.3, 2) for name in labels])
    model = fit_type_model(features, labels, tuple(centres), ("shape",), c=1.0, seed=0)
    probabilities = model.probabilities(np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0]]))
    assert probabilities.shape == (3, 3) and np.allclose(probabilities.sum(1), 1.0)
    assert list(probabilities.argmax(1)) == [0, 1, 2]
    two = fit_type_model(features[:12], labels[:12], ("hole", "lycra_cut"), ("shape",), c=1.0, seed=0)
    assert two.weights.shape == (2, 2) and list(two.probabilities(features[[0, 6]]).argmax(1)) == [0, 1]
    with pytest.raises(DataError, match=r"no training image of \['twoply'\]"):
        fit_type_model(features, labels, (*centres, "twoply"), ("shape",), c=1.0, seed=0)
