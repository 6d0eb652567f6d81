"""End to end: `dvc repro crossval/dvc.yaml` on a tiny configuration, and what a plain `dvc repro` leaves alone.

15 originals (6 good, 2 holes, 2 lycra cuts, 3 needles, 2 two-plies) in 2
folds, one training seed, random-init encoder: every stage of the CV runs with
the real code, in minutes. The wiring of a second seed (every matrix instance
reads and writes its own seed's files) is checked statically on the project's
own two seeds (tests/pipeline/test_sub_pipelines.py), and the pooling of
several seeds' score files in tests/crossval/test_report.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from textile_defects.crossval.folds import check_plan_files
from textile_defects.crossval.report import augmented_manifest

from tests.helpers.repo import REPO_ROOT, copy_of_repo, deep_merge, project_files, run

# The tiny CV now also transplants, fits a type classifier per fold and hands its naming over
# (20 more stage runs): its one-off build needs more than the suite's default 900 s on a loaded machine.
pytestmark = pytest.mark.timeout(1800)


FOLDS = 2
# One seed: a second one re-ran 12 of the 38 stages (about 100 s of the suite's critical path).
SEEDS = (3,)
TINY_CROSSVAL = {
    "augment_cv": {"copies_per_original": {"non_defect": 1, "hole": 2, "lycra_cut": 2, "needle": 1, "twoply": 2}},
    "crossval": {
        "folds": list(range(FOLDS)),
        "seeds": list(SEEDS),
        "train_overrides": {"selection": "last", "tracking": False, "epochs": 2, "unfreeze_epoch": 1, "image_size": [160, 90]},
        "batch_size": 8,
        "report": {"bootstrap_resamples": 200},
    },
}


@pytest.fixture(scope="module")
def crossval_repo(reproduced_tiny_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The reproduced tiny repository plus the CV pipeline: `dvc repro` output, then `dvc repro crossval/dvc.yaml` output.

    Between the two, the sample's seed changes, so the CV has stale upstream stages to run.
    """
    repo = copy_of_repo(reproduced_tiny_repo, tmp_path_factory.mktemp("crossval") / "repo")
    for name in project_files():
        if name.startswith("crossval/") and name != "crossval/dvc.lock":
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, repo / name)
    params = deep_merge(yaml.safe_load((repo / "params.yaml").read_text()), TINY_CROSSVAL)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "cross-validation pipeline"], repo)
    plain = run(["dvc", "repro"], repo).stdout
    params["sample"]["seed"] += 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return repo, plain, run(["dvc", "repro", "crossval/dvc.yaml"], repo).stdout


def test_plain_repro_at_the_root_does_not_run_the_crossval_stages(crossval_repo: tuple[Path, str, str]) -> None:
    _, plain, _ = crossval_repo
    # The CV stages had never run, so a repro that included them could not be "up to date".
    assert "Data and pipelines are up to date." in plain, plain


def test_crossval_repro_runs_its_stages_and_only_the_upstream_it_needs(crossval_repo: tuple[Path, str, str]) -> None:
    _, _, output = crossval_repo
    for stage in ("'sample'", "'ingest'", "cv_plan", "cv_augment@1", "cv_train@1-3-post_baseline", "cv_score@0-3-baseline",
                  "cv_features", "cv_probe@0", "cv_naming@0-3", "cv_mixed@1-3", "cv_report"):
        assert stage in output, f"{stage} did not run"
    for stage in ("'split'", "'augment_train'", "'train_baseline'", "'evaluate'"):
        assert stage not in output, f"{stage} ran, but the CV does not need it"


def test_metrics_cover_every_original_for_every_model_and_seed(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    originals = sum(params["sample"]["counts"].values())
    metrics = json.loads((repo / "metrics/crossval.json").read_text())
    # naming: cv_type + cv_naming per fold; mixed: cv_mixed, the two namers together
    assert set(metrics) == {"baseline", "post_baseline", "probe", "naming", "mixed"}
    for model, block in metrics.items():
        assert block["originals"] == originals, model
        assert block["runs"] == (1 if model == "probe" else len(SEEDS)), model
        assert block["f1_macro"]["ci_low"] <= block["f1_macro"]["mean"] <= block["f1_macro"]["ci_high"], model
        assert sum(entry["support"] for entry in block["per_class"].values()) == originals, model
        confusion = (repo / f"metrics/crossval/confusion_{model}.csv").read_text().splitlines()
        assert len(confusion) - 1 == originals * block["runs"], model
    # One row in the comparison table, one in the per-class recall table.
    assert (repo / "reports/crossval/summary.md").read_text().count("| probe |") == 2


def test_fold_plan_passes_the_leakage_check_with_the_augmented_copies(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    crossval_dir = repo / "data/crossval"
    augmented = {fold: [augmented_manifest(crossval_dir, fold)] for fold in range(FOLDS)}
    assignment, labels = check_plan_files(
        crossval_dir / "plan", repo / "data/ingested/manifest.csv", params["classes"], FOLDS, augmented
    )
    assert set(assignment) == set(labels) and sorted(set(assignment.values())) == list(range(FOLDS))


def test_second_crossval_repro_is_a_no_op(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    assert "Data and pipelines are up to date." in run(["dvc", "repro", "crossval/dvc.yaml"], repo).stdout


TINY_SWEEP = {
    "variant": "baseline",
    "seeds": [5],
    "runs": [
        {"name": "wide", "note": "16:9 input, plain resize", "overrides": {"input_size": [64, 36], "head": "resize"}},
        {"name": "probe_wide", "note": "frozen features at 16:9", "probe_input_size": [64, 36]},
    ],
}


def _sweep(repo: Path, sweep: dict, *extra: str) -> str:
    path = repo / "crossval" / "sweeps" / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    result = run(["python", "scripts/cv_sweep.py", str(path), *extra], repo)
    return result.stdout + result.stderr


def test_a_queued_sweep_scores_its_runs_on_the_cv_folds_and_resumes(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    output = _sweep(repo, TINY_SWEEP, "--jobs", "2")
    assert "2 fold model(s) to train" in output, output  # one seed x two folds; the probe row trains nothing
    blocks = json.loads((repo / "reports/sweeps/tiny.json").read_text())
    originals = sum(yaml.safe_load((repo / "params.yaml").read_text())["sample"]["counts"].values())
    for name in ("wide", "probe_wide"):
        assert blocks[name]["originals"] == originals, name  # every original scored once, by a model that never saw it
        assert 0.0 <= blocks[name]["f1_macro"]["ci_low"] <= blocks[name]["f1_macro"]["mean"] <= blocks[name]["f1_macro"]["ci_high"]
    table = (repo / "reports/sweeps/tiny.md").read_text()
    assert "| wide |" in table and "16:9 input, plain resize (" in table and "per fold model)" in table
    # The trained models read the 16:9 input, scored from the CV's own fold data.
    settings = json.loads((repo / "data/sweeps/tiny/wide/seed5/settings.json").read_text())["settings"]
    assert settings["input_size"] == [64, 36] and settings["selection"] == "last" and settings["seed"] == 5
    # A sweep reads the CV's outputs and writes beside them, never into what a CV stage hashes.
    assert "up to date" in run(["dvc", "status", "crossval/dvc.yaml"], repo).stdout

    # Nothing changed: nothing retrains. A changed run: only it retrains.
    assert "0 fold model(s) to train" in _sweep(repo, TINY_SWEEP)
    changed = {**TINY_SWEEP, "runs": [{**TINY_SWEEP["runs"][0], "overrides": {"input_size": [96, 54], "head": "resize"}}, TINY_SWEEP["runs"][1]]}
    assert "2 fold model(s) to train" in _sweep(repo, changed)


def test_a_bad_sweep_file_names_the_run_and_key(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    bad = {**TINY_SWEEP, "runs": [{"name": "typo", "note": "x", "overrides": {"input_sise": 64}}]}
    path = repo / "crossval" / "sweeps" / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    result = run(["python", "scripts/cv_sweep.py", str(path)], repo, check=False)
    assert result.returncode != 0
    assert "bad:typo" in result.stderr and "input_sise" in result.stderr, result.stderr


def test_gate_report_scores_the_gate_each_classifier_and_both_rules(crossval_repo: tuple[Path, str, str]) -> None:
    repo, _, _ = crossval_repo
    report = json.loads((repo / "metrics/gate.json").read_text())
    gate_found = report["gate"]["operating_point"]["defect_recall"]["successes"]
    for model in ("baseline", "post_baseline"):
        for seed in SEEDS:
            name = f"{model}_seed{seed}"
            assert {name, f"gate_then_{name}", f"gate_or_{name}"} <= set(report), name
            either = report[f"gate_or_{name}"]["operating_point"]
            # Defective when the gate or the classifier says so: at least what each finds, at most each one's specificity.
            alone = report[name]["operating_point"]
            assert either["defect_recall"]["successes"] >= max(gate_found, alone["defect_recall"]["successes"]), name
            assert either["specificity"]["successes"] <= alone["specificity"]["successes"], name
            for curve in (f"roc_{name}.csv", f"roc_gate_or_{name}.csv"):
                assert (repo / "metrics/gate" / curve).read_text().startswith("fpr,tpr,threshold\n"), curve
    # The operating points: each target re-decides the folds' scores at thresholds read off the fold gates;
    # the pipeline's own target gives exactly the stored decision, and a higher one never keeps fewer good photos.
    params = yaml.safe_load((repo / "params.yaml").read_text())["gate"]
    points = report["operating_points"]
    assert list(points) == [f"{t:g}" for t in sorted({*params["report"]["targets"], params["target_specificity"]})]
    assert points[f"{params['target_specificity']:g}"]["gate"] == report["gate"]["operating_point"]
    kept = [entry["gate"]["specificity"]["successes"] for entry in points.values()]
    assert kept == sorted(kept)
    assert {f"gate_or_{model}_seed{seed}" for model in ("post_baseline", "mixed") for seed in SEEDS} <= set(next(iter(points.values())))
    assert "| gate.target_specificity |" in (repo / "reports/gate/crossval/operating_points.md").read_text()


def test_the_cvs_gate_follows_an_encoder_switch_with_the_default_layers(
    crossval_repo: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo = copy_of_repo(crossval_repo[0], tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params.update(encoder="resnet18", weights="none")
    assert params["gate"]["layers"] == "auto"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = [f"crossval/dvc.yaml:cv_gate@{fold}" for fold in range(FOLDS)]
    shown = run(["dvc", "repro", *stages], repo).stdout
    for fold in range(FOLDS):
        assert f"cv_gate@{fold}" in shown
        scores = (repo / f"data/crossval/scores/gate_fold{fold}.csv").read_text().splitlines()
        assert len(scores) > 1, f"fold {fold}: the gate scored nothing"
