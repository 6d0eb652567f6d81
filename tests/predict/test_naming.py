"""predict's type naming: the defect named by the type classifier, detection left to the classifier and the gate."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import sha256_file
from textile_defects.errors import ConfigError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.checkpoint import save_type_model
from textile_defects.naming.cues import region_and_cues
from textile_defects.naming.model import fit_type_model
from textile_defects.predict.judges import FramePrediction, Judge, ModelsInfo
from textile_defects.predict.naming import DEFAULT_NAMING, DEFAULT_TYPE_WEIGHT, DefectNamer, with_naming
from tests.helpers.gate import tiny_gate_and_photos
from tests.helpers.repo import REPO_ROOT

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")


def info(gate_size: tuple[int, int] | None) -> ModelsInfo:
    return ModelsInfo(engine="pytorch", classes=CLASSES, good_class="non_defect", classifier_size=(32, 32),
                      gate_size=gate_size, threshold=1.0 if gate_size else None, min_frame_size=None)  # fmt: skip


def test_the_type_classifier_names_the_defect_and_the_box_is_where_the_gate_points(tmp_path: Path) -> None:
    gate_path, photos = tiny_gate_and_photos(tmp_path)
    gate, _ = load_gate(gate_path)
    frame = prepare_image(photos / "spotted.png", gate.image_size)
    patch_map = gate.patch_scores(frame)
    _, cues = region_and_cues(frame, patch_map, ("shape", "profile"), border_patches=gate.border_patches, level=0.5)
    # A type model whose only "twoply" example is this very frame's cues: it must name it twoply.
    rng = np.random.default_rng(0)
    features = np.vstack([cues + rng.normal(0, 0.01, cues.shape) for _ in range(3)] + [rng.normal(5, 1, (9, cues.size))])
    labels = ["twoply"] * 3 + ["hole", "lycra_cut", "needle"] * 3
    model = fit_type_model(features, labels, CLASSES[1:], ("shape", "profile"), c=1.0, seed=0)
    save_type_model(model, gate_path, tmp_path / "type.npz")

    namer = DefectNamer(tmp_path / "type.npz", info(gate.image_size), gate_sha256=sha256_file(gate_path))
    probabilities = np.array([0.2, 0.5, 0.2, 0.06, 0.04])
    named = namer.name(FramePrediction(photos / "spotted.png", probabilities, anomaly_score=2.0, patch_map=patch_map), frame)
    out = named.prediction.probabilities
    assert out is not None and out[0] == probabilities[0] and out.max() == probabilities.max()
    assert CLASSES[int(out.argmax())] == "twoply"
    x0, y0, x1, y1 = named.box
    assert x0 <= 95 and x1 >= 70 and y0 <= 60 and y1 >= 40  # the spot (x 70-95, y 40-60)
    unjudged = FramePrediction(photos / "x.png", None, error="unreadable")
    assert namer.name(unjudged, frame).box is None

    # Mixed with the classifier's own naming: at weight 0 the classifier's hole stands, the type classifier's box stays.
    own = DefectNamer(tmp_path / "type.npz", info(gate.image_size), gate_sha256=sha256_file(gate_path), type_weight=0.0)
    kept = own.name(FramePrediction(photos / "spotted.png", probabilities, anomaly_score=2.0, patch_map=patch_map), frame)
    assert kept.prediction.probabilities is not None and np.allclose(kept.prediction.probabilities, probabilities)
    assert kept.box == named.box
    with pytest.raises(ConfigError, match="type-weight"):
        DefectNamer(tmp_path / "type.npz", info(gate.image_size), gate_sha256=sha256_file(gate_path), type_weight=-0.1)
    with pytest.raises(ConfigError, match="another gate"):
        DefectNamer(tmp_path / "type.npz", info(gate.image_size), gate_sha256="0" * 64)
    with pytest.raises(ConfigError, match="needs the gate"):
        DefectNamer(tmp_path / "type.npz", info(None), gate_sha256=None)


def test_a_type_model_read_at_native_pixels_names_from_that_frame_beside_a_lighter_gate(tmp_path: Path) -> None:
    gate_path, photos = tiny_gate_and_photos(tmp_path)  # the gate reads 160x96; the type model twice that
    gate, _ = load_gate(gate_path)
    native = (320, 192)
    frame, patch_map = prepare_image(photos / "spotted.png", native), gate.patch_scores(prepare_image(photos / "spotted.png", gate.image_size))
    _, cues = region_and_cues(frame, patch_map, ("shape", "profile"), border_patches=gate.border_patches, level=0.5)
    rng = np.random.default_rng(0)
    features = np.vstack([cues + rng.normal(0, 0.01, cues.shape) for _ in range(3)] + [rng.normal(5, 1, (9, cues.size))])
    labels = ["twoply"] * 3 + ["hole", "lycra_cut", "needle"] * 3
    model = fit_type_model(features, labels, CLASSES[1:], ("shape", "profile"), c=1.0, seed=0)
    save_type_model(dataclasses.replace(model, image_size=native), gate_path, tmp_path / "type.npz")

    judge = with_naming(judge_with(gate.image_size), "type", tmp_path / "type.npz", sha256_file(gate_path))
    # predict prepares each frame once per size: the classifier's, the gate's and the type model's.
    assert judge.info.naming_size == native and judge.info.sizes == [(32, 32), gate.image_size, native]
    namer = judge.namer  # type: ignore[attr-defined]
    named = namer.name(FramePrediction(photos / "spotted.png", np.array([0.2, 0.5, 0.2, 0.06, 0.04]), anomaly_score=2.0,
                                       patch_map=patch_map), frame)  # fmt: skip
    assert CLASSES[int(named.prediction.probabilities.argmax())] == "twoply"
    x0, y0, x1, y1 = named.box  # in the native frame: the spot is at x 140-190, y 80-120
    assert x0 <= 190 and x1 >= 140 and y0 <= 120 and y1 >= 80 and x1 > 160


def test_predicts_default_type_weight_is_the_one_the_holdout_scores() -> None:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    assert params["mixed_naming"]["type_weight"] == DEFAULT_TYPE_WEIGHT


def judge_with(gate_size: tuple[int, int] | None) -> Judge:
    judge = Judge()
    judge.info = info(gate_size)
    return judge


def test_the_default_names_with_both_where_it_can_else_the_classifier_saying_why(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert DEFAULT_NAMING == "auto"
    caplog.set_level(logging.INFO, logger="textile_defects.predict")
    no_gate = judge_with(None)
    assert with_naming(no_gate, "auto", tmp_path / "type.npz", None, DEFAULT_TYPE_WEIGHT) is no_gate
    assert "the classifier names the defect: no anomaly gate" in caplog.text
    no_type = judge_with((64, 36))
    assert with_naming(no_type, "auto", tmp_path / "type.npz", None, DEFAULT_TYPE_WEIGHT) is no_type
    assert "no type classifier" in caplog.text and "dvc repro train_type" in caplog.text
    # Asked for by name, a missing type classifier is an error, not a quiet fallback.
    for naming in ("mixed", "type"):
        with pytest.raises(ConfigError, match=f"--naming {naming} needs the type classifier"):
            with_naming(no_type, naming, tmp_path / "type.npz", None, DEFAULT_TYPE_WEIGHT)
