"""End to end: `dvc repro holdout/dvc.yaml` on the tiny configuration.

The reproduced tiny pipeline's own checkpoints and gate score a fresh draw of
the sample generator (10 photos, another seed); every stage runs with the real code.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.helpers.repo import REPO_ROOT, copy_of_repo, project_files, run


@pytest.fixture(scope="module")
def holdout_repo(reproduced_tiny_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The reproduced tiny repository plus the hold-out pipeline, and the output of `dvc repro holdout/dvc.yaml`."""
    repo = copy_of_repo(reproduced_tiny_repo, tmp_path_factory.mktemp("holdout") / "repo")
    for name in project_files():
        if name.startswith("holdout/") and name != "holdout/dvc.lock":
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, repo / name)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "hold-out pipeline"], repo)
    return repo, run(["dvc", "repro", "holdout/dvc.yaml"], repo).stdout


def test_the_holdout_runs_its_stages_and_nothing_of_the_pipeline(holdout_repo: tuple[Path, str]) -> None:
    _, output = holdout_repo
    for stage in ("holdout_sample", "holdout_ingest", "holdout_score@baseline", "holdout_score@post_baseline",
                  "holdout_gate", "holdout_features@train", "holdout_features@scored", "holdout_probe", "holdout_mixed", "holdout_report"):
        assert stage in output, f"{stage} did not run"
    for stage in ("ingest", "train_baseline", "train_gate", "evaluate"):
        assert f"Running stage '{stage}'" not in output, f"{stage} ran, but the pipeline was already up to date"


def test_every_holdout_photo_is_scored_by_every_model_and_the_gate(holdout_repo: tuple[Path, str]) -> None:
    repo, _ = holdout_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    counts = params["holdout"]["sample"]["counts"]
    photos, defects = sum(counts.values()), sum(n for label, n in counts.items() if label != params["good_class"])
    figures = json.loads((repo / "metrics/holdout.json").read_text())
    assert (figures["originals"], figures["defect_originals"]) == (photos, defects)
    assert set(figures["classifiers"]) == {"baseline", "post_baseline", "probe", "naming", "mixed"}
    for model, block in figures["classifiers"].items():
        assert block["originals"] == photos and block["runs"] == 1, model
        assert block["f1_macro"]["ci_low"] <= block["f1_macro"]["mean"] <= block["f1_macro"]["ci_high"], model
    models = {"baseline", "post_baseline", "probe", "naming", "mixed"}
    assert set(figures["detection"]) == {"gate"} | models | {f"gate_or_{model}" for model in models}
    for name, block in figures["detection"].items():
        assert 0.0 <= block["image_auroc"] <= 1.0, name
        assert block["at_specificity_0.95"]["defect_recall"]["trials"] == defects, name
        roc = (repo / f"metrics/holdout/roc_{name}.csv").read_text().splitlines()
        assert roc[0] == "fpr,tpr,threshold" and len(roc) > 2, name
    assert set(figures["gate_then_classifier"]) == models
    for model in models:
        either = figures["detection"][f"gate_or_{model}"]["operating_point"]
        # Defective when the gate or the classifier says so: at least what each finds alone.
        for alone in ("gate", model):
            found = figures["detection"][alone]["operating_point"]["defect_recall"]["successes"]
            assert either["defect_recall"]["successes"] >= found, (model, alone)
    assert set(figures["paired"]) == {f"{first} vs {second}" for model in models
                                      for first, second in (("gate", model), (f"gate_or_{model}", model), (f"gate_or_{model}", "gate"))}
    for pair, block in figures["paired"].items():
        paired = block["at_specificity_0.95"]
        assert paired["both"] + paired["first_only"] <= defects and 0.0 < paired["p_value"] <= 1.0, pair
    # What predict writes: the gate-or-classifier verdict and the naming, scored per photo; its defect recall is the rule's.
    assert set(figures["as_predict_decides"]) == {f"gate_or_{model}" for model in models}
    for name, block in figures["as_predict_decides"].items():
        assert block["originals"] == photos and sum(c["recall"]["n"] for c in block["per_class"].values()) == photos, name
        assert block["defect_recall"]["k"] == figures["detection"][name]["operating_point"]["defect_recall"]["successes"], name
        assert (repo / f"reports/holdout/figures/confusion_{name}.png").stat().st_size > 0
    assert set(figures["paired_naming"]) == {f"{first} vs {second}" for other in ("naming", "mixed")
                                             for first, second in ((other, "post_baseline"), (f"gate_or_{other}", "gate_or_post_baseline"))}
    summary = (repo / "reports/holdout/figures/summary.md").read_text()
    assert "## What predict writes (gate_or_classifier)" in summary
    assert f"{photos} photos ({defects} defect)" in summary and "| gate |" in summary
    assert (repo / "reports/holdout/figures/intervals.png").stat().st_size > 0
    # The sample writes a mask for every defect photo: each one is localised, and heatmaps are drawn.
    localisation = figures["localisation"]
    assert localisation["peak_in_mask"]["trials"] == defects and 0.0 <= localisation["pixel_auroc"] <= 1.0
    assert "## Where the gate looks" in summary
    for sheet in ("heatmaps_defects.png", "heatmaps_top_good.png"):
        with Image.open(repo / "reports/holdout/figures" / sheet) as picture:
            assert picture.width == 4 * 320, sheet  # 4 columns of 320 px thumbnails
    assert (repo / "reports/holdout/contact_sheet.png").stat().st_size > 0


def test_the_holdout_photos_are_new_and_a_second_repro_is_a_no_op(holdout_repo: tuple[Path, str]) -> None:
    repo, _ = holdout_repo
    pipeline = {row.split(",")[3] for row in (repo / "data/ingested/manifest.csv").read_text().splitlines()[1:]}
    holdout = {row.split(",")[3] for row in (repo / "data/holdout/ingested/manifest.csv").read_text().splitlines()[1:]}
    assert holdout and not holdout & pipeline, "the hold-out draws other photos than the pipeline's sample"
    assert "Data and pipelines are up to date." in run(["dvc", "repro", "holdout/dvc.yaml"], repo).stdout
    # A plain repro at the root reads only the root dvc.yaml.
    assert "Data and pipelines are up to date." in run(["dvc", "repro"], repo).stdout


def test_the_operating_point_script_redecides_the_stored_scores_at_another_target(holdout_repo: tuple[Path, str], tmp_path: Path) -> None:
    repo, _ = holdout_repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    figures = json.loads((repo / "metrics/holdout.json").read_text())
    own = params["gate"]["target_specificity"]

    def compare(reference: float, holdout: str = "data/holdout") -> dict:
        out = tmp_path / f"{reference}.json"
        run([sys.executable, "scripts/operating_point.py", "--holdout", holdout, "--reference-target", str(reference), "--out", str(out)], repo)
        return json.loads(out.read_text())

    same = compare(own)
    # At the gate's own target both sides are the stored decision: what metrics/holdout.json reports for predict's label.
    # (The checkpoint keeps its held-out scores to 6 decimals, as the score file keeps the threshold.)
    assert same["at_stored"] == same["at_reference"] and same["threshold_ratio"] == pytest.approx(1.0, abs=1e-4)
    assert same["stored_vs_reference"]["f1_macro_difference"]["value"] == 0.0
    assert same["at_stored"]["f1_macro"] == pytest.approx(figures["as_predict_decides"]["gate_or_mixed"]["f1_macro"]["mean"], abs=1e-6)  # metrics keep 6 decimals
    # A lower target lowers the threshold: every defect found at the stored one is still found.
    lower = compare(0.5)
    assert lower["reference_threshold"] <= lower["stored_threshold"]
    assert lower["at_reference"]["defects_found"][0] >= lower["at_stored"]["defects_found"][0]
    assert lower["defects_found_stored_only_vs_reference_only"]["stored_only"] == 0
    # Scores from another gate (another threshold in the file) are refused, naming the file.
    stale = tmp_path / "stale"
    shutil.copytree(repo / "data/holdout/scores", stale / "scores")
    gate_csv = stale / "scores/gate_fold0.csv"
    rows = list(csv.DictReader(gate_csv.open(newline="")))
    with gate_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "threshold": str(float(row["threshold"]) * 1.1)} for row in rows)
    failed = run([sys.executable, "scripts/operating_point.py", "--holdout", str(stale), "--reference-target", "0.5"], repo, check=False)
    assert failed.returncode == 1 and "gate_fold0.csv" in failed.stderr and "another gate" in failed.stderr


def test_the_paired_script_scores_the_holdout_with_another_revisions_models(holdout_repo: tuple[Path, str], tmp_path: Path) -> None:
    repo, _ = holdout_repo
    figures = json.loads((repo / "metrics/holdout.json").read_text())
    out, work = tmp_path / "paired.json", tmp_path / "reference"
    # HEAD's models are the ones that scored the hold-out: restored from DVC, they score the photos again the same way.
    run([sys.executable, "scripts/paired_holdout.py", "--reference-rev", "HEAD", "--work", str(work), "--out", str(out)], repo)
    paired = json.loads(out.read_text())
    assert paired["first"] == paired["second"]
    assert paired["first"]["f1_macro"] == pytest.approx(figures["as_predict_decides"]["gate_or_mixed"]["f1_macro"]["mean"], abs=1e-6)  # metrics keep 6 decimals
    assert paired["first_vs_second"]["f1_macro_difference"]["value"] == 0.0
    assert paired["defects_found"] == {"first_only": 0, "second_only": 0, "p_value": 1.0}
    for name in ("gate_fold0.csv", "mixed_fold0.csv"):
        assert (work / "scores" / name).read_bytes() == (repo / "data/holdout/scores" / name).read_bytes(), name
    # A revision that never ran the pipeline has no models to restore: refused, naming the file.
    failed = run([sys.executable, "scripts/paired_holdout.py", "--reference-rev", "HEAD~2"], repo, check=False)
    assert failed.returncode == 1 and "models/gate.pt at revision HEAD~2" in failed.stderr
