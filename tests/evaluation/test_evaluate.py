"""Evaluation: metric definitions, exact intervals, byte-stable outputs, and the whole stage on a tiny model."""

from __future__ import annotations

import csv
import io
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from textile_defects.errors import ConfigError, DataError
from textile_defects.evaluation.config import EvaluateConfig
from textile_defects.evaluation.evaluate import evaluate_models
from textile_defects.evaluation.plots import confusion_png, epoch_marker, misclassified_png, training_curves_png
from textile_defects.evaluation.report import confusion_csv, model_metrics
from textile_defects.evaluation.scoring import SetPredictions
from textile_defects.stats.intervals import clopper_pearson
from textile_defects.stats.metrics import classification_metrics, defect_vs_good

from tests.helpers.evaluation import CLASSES, tiny_checkpoint, write_history, write_image_manifest, write_images
from tests.helpers.repo import REPO_ROOT
CONFIG = EvaluateConfig(batch_size=4, workers=2, device="cpu", confidence=0.95, misclassified_max=4, thumb_width=64)
# Two of each defect and four good images: the shape of the real validation originals, smaller.
LABELS = ["non_defect"] * 4 + ["hole", "lycra_cut", "needle", "twoply"] * 2


def _predictions(y_true: list[int], y_pred: list[int], paths: list[Path] | None = None) -> SetPredictions:
    """Predictions whose argmax is ``y_pred`` with confidence 0.6."""
    probabilities = np.full((len(y_pred), len(CLASSES)), 0.1)
    probabilities[np.arange(len(y_pred)), y_pred] = 0.6
    paths = paths or [Path(f"img_{i}.png") for i in range(len(y_true))]
    return SetPredictions("val_originals", CLASSES, tuple(paths), np.array(y_true), probabilities, tuple(p.stem for p in paths))


# --- intervals and metrics ------------------------------------------------------------


@pytest.mark.parametrize(("successes", "trials"), [(0, 1), (1, 2), (2, 2), (3, 7), (0, 14), (10, 10), (37, 120)])
def test_clopper_pearson_matches_scipy_exact_interval(successes: int, trials: int) -> None:
    expected = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="exact")
    low, high = clopper_pearson(successes, trials, 0.95)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_clopper_pearson_two_of_two_holes_is_far_from_certain() -> None:
    # All of 2 defects found: the exact lower bound is 0.025 ** (1/2), about 0.158, not 1.
    low, high = clopper_pearson(2, 2)
    assert low == pytest.approx(0.025**0.5, rel=1e-9)
    assert high == 1.0
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


def test_defect_vs_good_counts_any_defect_class_as_defective() -> None:
    good, hole, needle = 0, 1, 3
    y_true = np.array([hole, hole, needle, good, good, good])
    # A hole called a needle defect is still a caught defect; a needle called good is missed.
    y_pred = np.array([hole, needle, good, good, good, hole])
    binary = defect_vs_good(y_true, y_pred, good_index=good)
    assert (binary["tp"], binary["fn"], binary["tn"], binary["fp"]) == (2, 1, 2, 1)
    assert binary["defect_recall"]["value"] == pytest.approx(2 / 3)
    assert binary["specificity"]["value"] == pytest.approx(2 / 3)
    assert binary["defect_precision"]["value"] == pytest.approx(2 / 3)
    low, high = clopper_pearson(2, 3)
    assert binary["defect_recall"]["ci_low"] == pytest.approx(low)
    assert binary["defect_recall"]["ci_high"] == pytest.approx(high)


def test_defect_vs_good_without_defects_has_no_recall_and_a_full_interval() -> None:
    binary = defect_vs_good(np.array([0, 0]), np.array([0, 1]), good_index=0)
    assert binary["defect_recall"] == {"value": None, "ci_low": 0.0, "ci_high": 1.0}
    assert binary["specificity"]["value"] == 0.5


def test_classification_metrics_per_class_and_averages() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1, 3, 4])
    y_pred = np.array([0, 0, 0, 1, 1, 3, 3, 0])
    result = classification_metrics(y_true, y_pred, CLASSES, "non_defect")
    assert result["n"] == 8
    assert result["accuracy"] == pytest.approx(5 / 8)
    hole = result["per_class"]["hole"]
    assert (hole["precision"], hole["recall"], hole["support"]) == (0.5, 0.5, 2)
    # lycra_cut is absent from truth and predictions: support 0, F1 0, and it counts in the macro average.
    assert result["per_class"]["lycra_cut"]["support"] == 0 and result["per_class"]["lycra_cut"]["f1"] == 0
    assert result["f1_macro"] == pytest.approx(np.mean([result["per_class"][c]["f1"] for c in CLASSES]))
    assert result["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, labels=range(5), average="macro", zero_division=0))
    assert result["f1_weighted"] == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert list(result["per_class"]) == list(CLASSES)


def test_classification_metrics_rejects_unknown_good_class() -> None:
    with pytest.raises(ValueError, match="good class"):
        classification_metrics(np.array([0]), np.array([0]), CLASSES, "good")


# --- files for git and DVC ------------------------------------------------------------


def test_metrics_json_is_rounded_and_byte_stable() -> None:
    predictions = _predictions([0, 0, 0, 1, 2, 3], [0, 0, 1, 1, 2, 0])
    first = json.dumps(model_metrics({"val_originals": predictions}, "non_defect", 0.95), sort_keys=True)
    second = json.dumps(model_metrics({"val_originals": predictions}, "non_defect", 0.95), sort_keys=True)
    assert first == second
    figures = json.loads(first)["val_originals"]
    assert figures["accuracy"] == 0.666667  # 4/6 kept to 6 decimals
    assert figures["defect_vs_good"]["defect_recall"]["ci_low"] == round(clopper_pearson(2, 3)[0], 6)


def test_confusion_csv_has_one_row_per_image_with_class_names() -> None:
    rows = list(csv.reader(io.StringIO(confusion_csv(_predictions([0, 1, 4], [0, 3, 4])))))
    assert rows == [["actual", "predicted"], ["non_defect", "non_defect"], ["hole", "needle"], ["twoply", "twoply"]]


def test_evaluate_config_names_the_wrong_key() -> None:
    values = {"batch_size": 4, "workers": 0, "device": "cpu", "confidence": 0.95, "misclassified_max": 4, "thumb_width": 64}
    assert EvaluateConfig.from_section(values).batch_size == 4
    with pytest.raises(ConfigError, match="confidence"):
        EvaluateConfig.from_section({**values, "confidence": 95})
    # Every problem at once, each with its key path: a user fixes params.yaml in one pass.
    with pytest.raises(ConfigError) as raised:
        EvaluateConfig.from_section({**values, "batchsize": 4, "workers": 1.5, "device": "tpu"})
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert "evaluate.batchsize: unknown key" in message
    assert "evaluate.workers: got 1.5" in message and "evaluate.device: got 'tpu'" in message
    with pytest.raises(ConfigError, match="evaluate.thumb_width: missing"):
        EvaluateConfig.from_section({key: value for key, value in values.items() if key != "thumb_width"})


# --- pictures ---------------------------------------------------------------------------


def _decode_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_confusion_png_renders_counts_and_absent_classes() -> None:
    counts = np.array([[3, 1, 0, 0, 0], [0, 2, 0, 0, 0], [0] * 5, [0, 0, 0, 1, 0], [1, 0, 0, 0, 1]])
    image = _decode_png(confusion_png(counts, CLASSES, "tiny"))
    assert image.width > image.height > 300


def test_misclassified_png_with_and_without_mistakes(tmp_path: Path) -> None:
    paths = write_images(tmp_path, ["non_defect", "hole", "needle"])
    with_mistakes = _decode_png(misclassified_png(_predictions([0, 1, 3], [0, 3, 0], paths), "tiny", 4, 64))
    without = _decode_png(misclassified_png(_predictions([0, 1, 3], [0, 1, 3], paths), "tiny", 4, 64))
    assert with_mistakes.height > without.height


def test_training_curves_png_from_a_history(tmp_path: Path) -> None:
    from textile_defects.stats.history import read_history

    history = read_history(write_history(tmp_path / "h.csv", epochs=4))
    assert list(history["epoch"]) == [1, 2, 3, 4]
    image = _decode_png(training_curves_png(history, "tiny"))
    assert image.width > image.height


def test_the_curves_mark_the_epoch_the_checkpoint_holds() -> None:
    history = {"epoch": np.array([1.0, 2.0, 3.0]), "val_f1_macro": np.array([0.2, 0.9, 0.5])}
    # A fixed schedule keeps the last epoch even when validation peaked earlier.
    assert epoch_marker(history, 3, "last") == (3.0, "kept epoch (3, last epoch)")
    assert epoch_marker(history, 2, "best_val") == (2.0, "kept epoch (2, best val F1 macro)")
    assert epoch_marker(history, None, None) == (2.0, "best epoch (2)")
    assert epoch_marker({"epoch": np.array([1.0, 2.0])}, None, None) == (None, "")


# --- the stage on a tiny model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny checkpoints, histories, and three manifests (val originals, val, test)."""
    root = tmp_path_factory.mktemp("evaluate")
    tiny_checkpoint(root / "models/baseline.pt", seed=0)
    tiny_checkpoint(root / "models/post_baseline.pt", seed=1)
    for stem in ("baseline", "post_baseline"):
        write_history(root / f"reports/train/{stem}_history.csv")
    for offset, name in enumerate(("originals", "val", "test")):
        images = write_images(root / "images" / name, LABELS, seed=offset)
        write_image_manifest(root / f"sets/{name}/manifest.csv", images, LABELS)
    return root


def _run_evaluate(root: Path, sets: tuple[str, ...]) -> dict:
    names = {"originals": "val_originals", "val": "val", "test": "test"}
    return evaluate_models(
        [root / "models/baseline.pt", root / "models/post_baseline.pt"],
        {names[name]: root / f"sets/{name}/manifest.csv" for name in sets},
        [root / "reports/train/baseline_history.csv", root / "reports/train/post_baseline_history.csv"],
        root / "metrics",
        root / "reports/evaluate",
        CONFIG,
    )


def test_evaluate_writes_every_output_and_reruns_byte_identical(tiny_project: Path) -> None:
    root = tiny_project
    results = _run_evaluate(root, sets=("originals", "test"))
    metrics = json.loads((root / "metrics/post_baseline.json").read_text())
    assert set(metrics) == {"val_originals", "test"}
    figures = metrics["val_originals"]
    assert figures["n"] == len(LABELS)
    assert set(figures["per_class"]) == set(CLASSES)
    assert figures["per_class"]["hole"]["support"] == 2
    binary = figures["defect_vs_good"]
    assert binary["tp"] + binary["fn"] == 8 and binary["tn"] + binary["fp"] == 4
    # The JSON agrees with the predictions it was computed from.
    predictions = results["post_baseline"]["val_originals"]
    assert figures["accuracy"] == round(float(np.mean(predictions.y_pred == predictions.y_true)), 6)

    confusion = list(csv.DictReader((root / "metrics/confusion/baseline_test.csv").open()))
    assert len(confusion) == len(LABELS)
    assert sorted(row["actual"] for row in confusion) == sorted(LABELS)
    assert (root / "metrics/history/baseline.csv").read_bytes() == (root / "reports/train/baseline_history.csv").read_bytes()
    pngs = sorted(path.name for path in (root / "reports/evaluate").iterdir())
    assert len(pngs) == 2 * 2 * 2 + 2  # confusion + misclassified per model and set, curves per model
    assert "confusion_baseline_val_originals.png" in pngs and "curves_post_baseline.png" in pngs

    # A rerun (here without a test set) gives the same bytes, and no test-set file of the run before survives.
    first_run = {path: path.read_bytes() for path in (root / "metrics").rglob("*.csv")}
    _run_evaluate(root, sets=("originals",))
    rerun = {path: path.read_bytes() for path in (root / "metrics").rglob("*.csv")}
    assert rerun == {path: data for path, data in first_run.items() if not path.name.endswith("_test.csv")}
    rerun_metrics = json.loads((root / "metrics/post_baseline.json").read_text())
    assert rerun_metrics == {"val_originals": metrics["val_originals"]}
    assert not list((root / "reports/evaluate").glob("*_test.png"))


def test_evaluate_lists_unreadable_images_and_keeps_old_outputs(tiny_project: Path, tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", ["hole", "non_defect", "needle"])
    images[0].write_bytes(b"not a png at all")
    images[2].write_bytes(images[2].read_bytes()[:200])  # truncated
    manifest = write_image_manifest(tmp_path / "manifest.csv", images, ["hole", "non_defect", "needle"])
    metrics_file = tiny_project / "metrics/baseline.json"
    before = metrics_file.read_bytes() if metrics_file.exists() else None
    with pytest.raises(DataError, match=r"2 image\(s\) cannot be read") as raised:
        evaluate_models(
            [tiny_project / "models/baseline.pt"],
            {"val_originals": manifest},
            [tiny_project / "reports/train/baseline_history.csv"],
            tiny_project / "metrics",
            tiny_project / "reports/evaluate",
            CONFIG,
        )
    assert images[0].name in str(raised.value) and images[2].name in str(raised.value)
    assert (metrics_file.read_bytes() if metrics_file.exists() else None) == before


def test_stage_script_skips_a_missing_test_set(tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "evaluate: {batch_size: 8, workers: 1, device: cpu, confidence: 0.9,"
        " misclassified_max: 4, thumb_width: 48}\n"
    )
    root = tiny_project
    argv = [
        "evaluate.py", "--params", str(params),
        "--models", str(root / "models/baseline.pt"),
        "--val-originals", str(root / "sets/originals/manifest.csv"),
        "--val", str(root / "sets/val/manifest.csv"),
        "--test", str(tmp_path / "absent/manifest.csv"),
        "--histories", str(root / "reports/train/baseline_history.csv"),
        "--metrics-dir", str(tmp_path / "metrics"), "--reports-dir", str(tmp_path / "reports"),
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(REPO_ROOT / "stages/evaluate.py"), run_name="__main__")
    metrics = json.loads((tmp_path / "metrics/baseline.json").read_text())
    assert set(metrics) == {"val_originals", "val"}
    assert metrics["val"]["defect_vs_good"]["confidence"] == 0.9


def test_evaluate_takes_the_good_class_from_each_checkpoint(tiny_project: Path, tmp_path: Path) -> None:
    # A model whose good class is "hole": its defect-vs-good figures count the 2 holes as good.
    model = tiny_checkpoint(tmp_path / "models/hole_is_good.pt", seed=0, good_class="hole")
    evaluate_models(
        [model],
        {"val_originals": tiny_project / "sets/originals/manifest.csv"},
        [tiny_project / "reports/train/baseline_history.csv"],
        tmp_path / "metrics",
        tmp_path / "reports",
        CONFIG,
    )
    binary = json.loads((tmp_path / "metrics/hole_is_good.json").read_text())["val_originals"]["defect_vs_good"]
    assert binary["tn"] + binary["fp"] == LABELS.count("hole")
    assert binary["tp"] + binary["fn"] == len(LABELS) - LABELS.count("hole")


# --- intervals on augmented sets count photos (issue 11, item 5) -----------------------


def test_augmented_set_intervals_count_photos_not_copies() -> None:
    from textile_defects.stats.intervals import clopper_pearson as exact

    # 2 good and 4 defect photos, 10 augmented copies each; every copy classified right.
    photos = [0, 0, 1, 2, 3, 4]
    y_true = [label for label in photos for _ in range(10)]
    paths = [Path(f"photo{p}_copy{c}.png") for p in range(len(photos)) for c in range(10)]
    probabilities = np.full((len(y_true), len(CLASSES)), 0.1)
    probabilities[np.arange(len(y_true)), y_true] = 0.6
    copies = SetPredictions("val", CLASSES, tuple(paths), np.array(y_true), probabilities,
                            tuple(f"photo{p}" for p in range(len(photos)) for _ in range(10)))
    figures = model_metrics({"val": copies}, "non_defect", 0.95)["val"]
    assert (figures["n"], figures["originals"]) == (60, 6)
    binary = figures["defect_vs_good"]
    assert (binary["tp"], binary["fn"]) == (40, 0)  # the counts stay per image
    # 40 caught copies of 4 photos are 4 trials: [0.40, 1], not the [0.91, 1] of 40 independent images.
    assert binary["defect_recall"]["ci_low"] == round(exact(4, 4)[0], 6)
    assert binary["specificity"]["ci_low"] == round(exact(2, 2)[0], 6)
    assert exact(40, 40)[0] > 0.9


def test_one_image_per_photo_keeps_the_plain_exact_interval() -> None:
    from textile_defects.stats.intervals import clopper_pearson as exact

    figures = model_metrics({"val_originals": _predictions([0, 0, 0, 1, 2, 3], [0, 0, 1, 1, 2, 0])}, "non_defect", 0.95)
    recall = figures["val_originals"]["defect_vs_good"]["defect_recall"]
    assert figures["val_originals"]["originals"] == 6
    assert (recall["ci_low"], recall["ci_high"]) == tuple(round(x, 6) for x in exact(2, 3))
