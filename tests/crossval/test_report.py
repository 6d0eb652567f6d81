"""Pooled out-of-fold figures: reading and checking score files, intervals, seed spread, comparisons, pictures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from textile_defects.crossval.compare import compare, comparison_table
from textile_defects.crossval.figures import confusion_csv, crossval_report, run_metrics, seed_spread
from textile_defects.crossval.plots import forest_png, pooled_confusion_png
from textile_defects.crossval.scores import OutOfFold, load_scores, scores_csv
from textile_defects.errors import DataError
from textile_defects.stats.intervals import clopper_pearson

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
# 62 originals shaped like the built-in sample: 30 good, 8 of each defect.
LABELS = np.array([0] * 30 + [1] * 8 + [2] * 8 + [3] * 8 + [4] * 8)
IDS = tuple(f"orig{i:02d}" for i in range(len(LABELS)))
FOLDS = np.arange(len(LABELS)) % 5
SETTINGS = {"confidence": 0.95, "resamples": 400, "seed": 0}


def _predictions(accuracy: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(len(LABELS)) < accuracy, LABELS, rng.integers(0, len(CLASSES), len(LABELS)))


def _run(model: str, seed: int | None, accuracy: float) -> OutOfFold:
    predicted = _predictions(accuracy, 100 * len(model) + (seed or 0))
    return OutOfFold(model, seed, IDS, FOLDS, LABELS, predicted, np.eye(len(CLASSES))[predicted])


# --- figures ---------------------------------------------------------------------------


def test_run_metrics_exact_intervals_and_counts() -> None:
    y_pred = _predictions(0.7, 1)
    figures = run_metrics(LABELS, y_pred, IDS, CLASSES, "non_defect", **SETTINGS)
    assert (figures["n"], figures["originals"]) == (62, 62)
    hole = figures["per_class"]["hole"]["recall"]
    k = int(np.sum((LABELS == 1) & (y_pred == 1)))
    assert (hole["k"], hole["n"]) == (k, 8)
    assert (hole["ci_low"], hole["ci_high"]) == pytest.approx(clopper_pearson(k, 8))
    recall = figures["defect_recall"]
    tp = int(np.sum((LABELS != 0) & (y_pred != 0)))
    assert (recall["k"], recall["n"]) == (tp, 32)
    assert (recall["ci_low"], recall["ci_high"]) == pytest.approx(clopper_pearson(tp, 32))
    assert figures["specificity"]["n"] == 30
    f1 = figures["f1_macro"]
    assert f1["value"] == pytest.approx(f1_score(LABELS, y_pred, labels=range(5), average="macro", zero_division=0))
    assert f1["ci_low"] < f1["value"] < f1["ci_high"]
    assert figures == run_metrics(LABELS, y_pred, IDS, CLASSES, "non_defect", **SETTINGS)  # seeded
    assert figures["f1_macro"] != run_metrics(LABELS, y_pred, IDS, CLASSES, "non_defect", **{**SETTINGS, "seed": 1})["f1_macro"]


def test_seed_spread_is_mean_std_min_max_of_each_run() -> None:
    runs = [run_metrics(LABELS, _predictions(0.7, s), IDS, CLASSES, "non_defect", **SETTINGS) for s in range(3)]
    spread = seed_spread(runs)
    values = [run["f1_macro"]["value"] for run in runs]
    assert spread["f1_macro"] == pytest.approx(
        {"mean": np.mean(values), "std": np.std(values, ddof=1), "min": min(values), "max": max(values)}
    )
    recalls = [run["defect_recall"]["value"] for run in runs]
    assert spread["defect_recall"]["mean"] == pytest.approx(np.mean(recalls))
    assert seed_spread(runs[:1])["f1_macro"]["std"] is None  # one run: the spread is unknown, not 0


def test_crossval_report_layout_and_byte_stability() -> None:
    pooled = {"post_baseline": [_run("post_baseline", s, 0.75) for s in (0, 1, 2)], "probe": [_run("probe", None, 0.7)]}
    report = crossval_report(pooled, CLASSES, "non_defect", 0.95, 400, 0)
    text = json.dumps(report, sort_keys=True)
    assert text == json.dumps(crossval_report(pooled, CLASSES, "non_defect", 0.95, 400, 0), sort_keys=True)
    block = report["post_baseline"]
    assert (block["originals"], block["runs"], block["seeds"]) == (62, 3, [0, 1, 2])
    assert set(block["f1_macro"]) == {"mean", "std", "min", "max", "ci_low", "ci_high"}
    assert set(block["defect_recall"]) == {"mean", "std", "min", "max", "ci_low", "ci_high", "k", "n"}
    assert set(block["per_seed"]) == {"seed0", "seed1", "seed2"}
    assert block["f1_macro"]["mean"] == pytest.approx(np.mean([r["f1_macro"]["value"] for r in block["per_seed"].values()]), abs=1e-6)
    # The seed-mean interval counts each photo once: 32 defect photos, not 3 x 32 predictions.
    tp = sum(int(np.sum((LABELS != 0) & (run.y_pred != 0))) for run in pooled["post_baseline"])
    assert block["defect_recall"]["ci_low"] == round(clopper_pearson(tp / 3, 32)[0], 6)
    assert block["defect_recall"]["n"] == 32
    assert report["probe"]["runs"] == 1 and report["probe"]["f1_macro"]["std"] is None
    assert set(report["probe"]["per_seed"]) == {"no_seed"}
    for number in _floats(report):
        assert number == round(number, 6)


def _floats(value: object) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _floats(item)]
    if isinstance(value, list):
        return [f for item in value for f in _floats(item)]
    return []


def test_seed_mean_f1_interval_holds_seed_noise() -> None:
    # Three seeds that disagree a lot: the interval of the mean must be wider than with three copies of one seed.
    noisy = [_run("m", s, accuracy) for s, accuracy in ((0, 0.4), (1, 0.7), (2, 0.95))]
    steady = [OutOfFold("m", s, IDS, FOLDS, LABELS, noisy[1].y_pred, noisy[1].probabilities) for s in (0, 1, 2)]
    wide = crossval_report({"m": noisy}, CLASSES, "non_defect", 0.95, 400, 0)["m"]["f1_macro"]
    narrow = crossval_report({"m": steady}, CLASSES, "non_defect", 0.95, 400, 0)["m"]["f1_macro"]
    assert wide["ci_high"] - wide["ci_low"] > narrow["ci_high"] - narrow["ci_low"]


def test_confusion_csv_has_a_row_per_original_and_seed() -> None:
    runs = [_run("m", s, 0.7) for s in (0, 1)]
    rows = list(csv.reader(io.StringIO(confusion_csv(runs, CLASSES))))
    assert rows[0] == ["actual", "predicted"]
    assert len(rows) == 1 + 2 * 62
    assert rows[1] == [CLASSES[LABELS[0]], CLASSES[runs[0].y_pred[0]]]


# --- comparisons ----------------------------------------------------------------------


def _block(low: float, high: float, mean: float) -> dict[str, object]:
    entry = {"mean": mean, "std": 0.01, "min": mean - 0.01, "max": mean + 0.01, "ci_low": low, "ci_high": high}
    return {"runs": 3, "f1_macro": entry, "f1_weighted": entry, "defect_recall": {**entry, "k": 30.0, "n": 32.0},
            "specificity": {**entry, "k": 27, "n": 30}}


def test_overlapping_intervals_are_within_noise() -> None:
    best, close, far = _block(0.70, 0.90, 0.80), _block(0.60, 0.75, 0.68), _block(0.40, 0.60, 0.50)
    assert compare(close, best, "f1_macro") == "within noise"
    assert compare(far, best, "f1_macro") == "lower"
    assert compare(best, far, "f1_macro") == "higher"
    table = comparison_table({"post_baseline": best, "baseline": far, "probe": close, "gate": None})
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert "| F1 macro [CI] |" in table and "| vs post_baseline |" in table
    assert rows["post_baseline"].endswith("| reference |")
    assert rows["probe"].endswith("| within noise |")
    assert "F1 macro lower" in rows["baseline"] and "(beyond noise)" in rows["baseline"]
    assert "0.800 [0.700, 0.900]" in rows["post_baseline"]
    assert "(30/32)" in rows["post_baseline"]  # counts as k/n
    assert "0.790–0.810, sd 0.010 (3 seeds)" in rows["post_baseline"]
    assert rows["gate"] == "| gate |" + " — |" * 6  # a dash in every column


def test_table_with_a_chosen_reference_and_notes() -> None:
    table = comparison_table({"a": _block(0.7, 0.9, 0.8), "b": _block(0.4, 0.6, 0.5)}, label="encoder",
                             reference="b", notes={"a": "exp-a"})
    assert table.splitlines()[0].startswith("| encoder |") and table.splitlines()[0].endswith("| vs b | run |")
    assert "higher (beyond noise) | exp-a |" in table
    with pytest.raises(ValueError, match="reference"):
        comparison_table({"a": _block(0.7, 0.9, 0.8), "b": None}, reference="b")


# --- reading and checking score files --------------------------------------------------


def _write_cv(tmp_path: Path, runs: dict[tuple[str, int | None], np.ndarray]) -> tuple[Path, Path]:
    """A fold plan and one score file per (model, seed, fold), written as the CV stages write them."""
    plan = tmp_path / "folds.csv"
    plan.write_text("original_id,label,fold\n" + "".join(
        f"{o},{CLASSES[label]},{fold}\n" for o, label, fold in zip(IDS, LABELS, FOLDS, strict=True)))
    scores = tmp_path / "scores"
    scores.mkdir()
    for (model, seed), predicted in runs.items():
        for fold in range(5):
            rows = np.flatnonzero(FOLDS == fold)
            probabilities = np.full((len(rows), len(CLASSES)), 0.05)
            probabilities[np.arange(len(rows)), predicted[rows]] = 0.8
            name = f"{model}_fold{fold}.csv" if seed is None else f"{model}_seed{seed}_fold{fold}.csv"
            (scores / name).write_text(scores_csv(fold, [IDS[i] for i in rows], [CLASSES[LABELS[i]] for i in rows], probabilities, CLASSES))
    return scores, plan


def test_load_scores_pools_every_model_and_seed(tmp_path: Path) -> None:
    predicted = {("post_baseline", 0): _predictions(0.7, 0), ("post_baseline", 1): _predictions(0.7, 1), ("probe", None): _predictions(0.6, 2)}
    scores, plan = _write_cv(tmp_path, predicted)
    (scores / "gate_fold0.csv").write_text("original_id,label,fold,anomaly_score,threshold,defective\n")
    pooled = load_scores(scores, plan, CLASSES)
    assert sorted(pooled) == ["post_baseline", "probe"]
    assert [run.seed for run in pooled["post_baseline"]] == [0, 1]
    run = pooled["post_baseline"][1]
    assert run.original_ids == IDS  # sorted by original, whatever the fold
    assert np.array_equal(run.y_true, LABELS) and np.array_equal(run.y_pred, predicted[("post_baseline", 1)])
    assert np.array_equal(run.folds, FOLDS)
    assert pooled["probe"][0].run == "no_seed"


def test_load_scores_ignores_stale_seeds_and_requires_asked_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    scores, plan = _write_cv(tmp_path, {("post_baseline", 0): LABELS, ("post_baseline", 7): LABELS})
    pooled = load_scores(scores, plan, CLASSES, models=["post_baseline"], seeds=[0])
    assert [run.seed for run in pooled["post_baseline"]] == [0]
    assert "seed 7 is not one of the seeds" in caplog.text
    with pytest.raises(DataError, match=r"no score files for seed\(s\) \[1\]"):
        load_scores(scores, plan, CLASSES, models=["post_baseline"], seeds=[0, 1])
    with pytest.raises(DataError, match="no score file for model 'baseline'"):
        load_scores(scores, plan, CLASSES, models=["baseline", "post_baseline"], seeds=[0])


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.reader(io.StringIO(path.read_text())))
    path.write_text("".join(",".join(row) + "\n" for row in edit(rows)))


def test_an_original_scored_twice_is_named_with_both_files(tmp_path: Path) -> None:
    scores, plan = _write_cv(tmp_path, {("baseline", 0): LABELS})
    fold1 = scores / "baseline_seed0_fold1.csv"
    fold1_rows = list(csv.reader(io.StringIO(fold1.read_text())))
    # orig01 (fold 1) also appears in fold 2's file: the fold-2 model may have trained on it.
    _rewrite(scores / "baseline_seed0_fold2.csv", lambda rows: [*rows, [*fold1_rows[1][:2], "2", *fold1_rows[1][3:]]])
    with pytest.raises(DataError) as error:
        load_scores(scores, plan, CLASSES)
    assert "baseline_seed0_fold2.csv:" in str(error.value) and "'orig01'" in str(error.value)
    assert "plan scores it in fold 1" in str(error.value) and "leakage" in str(error.value)
    # The same original twice in its own fold's file.
    _rewrite(scores / "baseline_seed0_fold2.csv", lambda rows: rows[:-1])
    _rewrite(fold1, lambda rows: [*rows, rows[1]])
    with pytest.raises(DataError, match=r"original 'orig01' is scored twice \(.*baseline_seed0_fold1.csv and .*baseline_seed0_fold1.csv\)"):
        load_scores(scores, plan, CLASSES)


def test_a_missing_original_or_fold_file_is_named(tmp_path: Path) -> None:
    scores, plan = _write_cv(tmp_path, {("baseline", 0): LABELS})
    _rewrite(scores / "baseline_seed0_fold3.csv", lambda rows: [rows[0], *rows[2:]])
    with pytest.raises(DataError, match=r"original 'orig03' \(plan fold 3\) is not scored; expected in baseline_seed0_fold3.csv"):
        load_scores(scores, plan, CLASSES)
    (scores / "baseline_seed0_fold3.csv").unlink()
    with pytest.raises(DataError, match=r"no score file for fold 3 \(baseline_seed0_fold3.csv\)"):
        load_scores(scores, plan, CLASSES)


def test_rows_that_disagree_with_the_plan_are_errors(tmp_path: Path) -> None:
    scores, plan = _write_cv(tmp_path, {("baseline", 0): LABELS})
    fold0 = scores / "baseline_seed0_fold0.csv"
    original = fold0.read_text()
    _rewrite(fold0, lambda rows: [rows[0], ["stranger", *rows[1][1:]], *rows[2:]])
    with pytest.raises(DataError, match="'stranger' is not in the fold plan"):
        load_scores(scores, plan, CLASSES)
    fold0.write_text(original.replace("orig00,non_defect", "orig00,hole", 1))
    with pytest.raises(DataError, match="the plan's label is 'non_defect'"):
        load_scores(scores, plan, CLASSES)
    fold0.write_text(original)
    _rewrite(fold0, lambda rows: [rows[0], [*rows[1][:3], "hole", *rows[1][4:]], *rows[2:]])  # not the argmax
    with pytest.raises(DataError, match="the most probable class"):
        load_scores(scores, plan, CLASSES)
    plan.write_text(plan.read_text() + "orig00,hole,1\n")
    with pytest.raises(DataError, match="listed twice"):
        load_scores(scores, plan, CLASSES)


# --- pictures ---------------------------------------------------------------------------


def test_pictures_are_deterministic_pngs() -> None:
    pooled = {"baseline": [_run("baseline", s, 0.5) for s in (0, 1)], "probe": [_run("probe", None, 0.7)]}
    report = crossval_report(pooled, CLASSES, "non_defect", 0.95, 200, 0)
    forest = forest_png(report)
    assert forest.startswith(b"\x89PNG") and forest == forest_png(report)
    confusion = pooled_confusion_png(pooled["baseline"], CLASSES)
    assert confusion.startswith(b"\x89PNG") and confusion != forest
