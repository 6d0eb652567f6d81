"""Predict's label on the hold-out against another revision's models on the same photos, paired.

    python scripts/paired_holdout.py --reference-rev main~3             # after `dvc repro holdout/dvc.yaml`
    python scripts/paired_holdout.py --reference-rev a1b2c3d --out /tmp/paired.json --work /tmp/reference

A candidate that changes a model (the gate's frame size, say) is tested on a
fresh draw against what the project had before, on the same photos. This
script restores the reference revision's gate, its engine file, its type
classifier and its detector from DVC (``dvc.api.open`` at that revision: the
local cache, or the remote), scores the current hold-out's photos with them
through the hold-out's own stage scripts and that revision's params.yaml, and
compares predict's label (gate-or-classifier decides, the mix names) with the
one ``data/holdout/scores`` holds: each one's F1 macro, photos named right per
class, defects found and named right; the paired F1 macro difference (current
- reference) with its bootstrap interval over photos; per class, and for the
defects found and the good photos kept, the photos only one gets right, with
the exact McNemar p-value; and the two gates alone, each thresholded where
it keeps the same share of the good photos (paired, McNemar). The pre-registration of draw 20261206
(docs/naming.md) names this comparison.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.scores import load_scores
from textile_defects.data.manifest import sha256_file
from textile_defects.decision.as_decided import decided_name, decided_runs
from textile_defects.decision.detectors import GateScores
from textile_defects.decision.rules import RULES
from textile_defects.errors import DataError
from textile_defects.gate.report import SPECIFICITIES, read_gate_scores
from textile_defects.holdout import FOLD
from textile_defects.holdout.paired import paired_at_specificity, paired_labels
from textile_defects.holdout.paired_text import figures_lines, naming_lines
from textile_defects.holdout.report import holdout_plan
from textile_defects.utils.atomic import atomic_write_json
from textile_defects.utils.logs import setup_logging
from textile_defects.utils.stage import load_params, section

log = logging.getLogger("paired_holdout")
MODEL = "mixed"
"""The namer of predict's default label (mixed_naming's score file)."""


def restore(repo: Path, rev: str, path: str, dest: Path) -> Path:
    """``path`` (a DVC output) as revision ``rev`` had it, copied to ``dest``."""
    import dvc.api

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with dvc.api.open(path, repo=str(repo), rev=rev, mode="rb") as source, dest.open("wb") as target:
            shutil.copyfileobj(source, target)
    except Exception as exc:  # dvc raises its own types for a missing rev, output or cache entry
        raise DataError(
            f"{path} at revision {rev}: cannot be restored ({type(exc).__name__}: {exc}); "
            "that revision must have run the pipeline and its outputs be in the DVC cache or remote (`dvc pull`)."
        ) from exc
    return dest


def _stage(script: str, *args: str | Path, repo: Path) -> None:
    command = [sys.executable, f"stages/{script}", *map(str, args)]
    log.info("%s", " ".join(command))
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise DataError(f"stages/{script} failed for the reference:\n{done.stderr.strip()[-2000:]}")


def score_reference(repo: Path, rev: str, manifest: Path, work: Path, current_scores: Path) -> Path:
    """Score the hold-out photos of ``manifest`` with revision ``rev``'s models and params; its scores folder."""
    params_text = subprocess.run(["git", "show", f"{rev}:params.yaml"], cwd=repo, capture_output=True, text=True)
    if params_text.returncode != 0:
        raise DataError(f"revision {rev}: no params.yaml ({params_text.stderr.strip()}); give a commit of this repository.")
    params_path = work / "params.yaml"
    work.mkdir(parents=True, exist_ok=True)
    params_path.write_text(params_text.stdout)
    detector = str(yaml.safe_load(params_text.stdout)["naming"]["detector"])
    models = {name: restore(repo, rev, f"models/{name}", work / "models" / name) for name in ("gate.pt", "gate.onnx", "type.npz")}
    scores, naming = work / "scores", work / "naming"
    scores.mkdir(exist_ok=True)
    detector_pt = restore(repo, rev, f"models/{detector}.pt", work / "models" / f"{detector}.pt")
    detector_csv = scores / f"{detector}_fold{FOLD}.csv"
    current_pt = repo / "models" / f"{detector}.pt"
    if current_pt.is_file() and sha256_file(current_pt) == sha256_file(detector_pt) and (current_scores / detector_csv.name).is_file():
        # The same classifier file on the same photos: its scores are the current ones, byte for byte.
        shutil.copyfile(current_scores / detector_csv.name, detector_csv)
        log.info("reference %s: the same %s.pt as now, its scores reused", rev, detector)
    else:
        _stage("crossval_score.py", "--params", params_path, "--fold", FOLD, "--model", detector_pt, "--scored", manifest,
               "--out", detector_csv, repo=repo)  # fmt: skip
    gate_csv = scores / f"gate_fold{FOLD}.csv"
    maps = work / "gate" / f"maps_fold{FOLD}.npz"
    _stage("holdout_gate.py", "--params", params_path, "--gate", models["gate.pt"], "--engine-file", models["gate.onnx"],
           "--scored", manifest, "--out", gate_csv, "--maps", maps, repo=repo)  # fmt: skip
    types = naming / f"type_fold{FOLD}.csv"
    _stage("crossval_type.py", "--params", params_path, "--fold", FOLD, "--gate", models["gate.pt"], "--model", models["type.npz"],
           "--scored", manifest, "--maps", maps, "--out", types, repo=repo)  # fmt: skip
    _stage("mixed_naming.py", "--params", params_path, "--detector", detector_csv, "--types", types,
           "--out", scores / f"{MODEL}_fold{FOLD}.csv", repo=repo)  # fmt: skip
    return scores


def predict_label(scores: Path, manifest: Path, classes: list[str], good_class: str) -> tuple[GateScores, list[str], np.ndarray, np.ndarray]:
    """(the gate's scores, original ids, true class indices, predict's label indices) from a hold-out scores folder."""
    plan = holdout_plan(manifest, classes)
    gate = GateScores.from_rows(read_gate_scores([scores / f"gate_fold{FOLD}.csv"], plan), good_class)
    pooled = load_scores(scores, plan, classes, models=[MODEL])
    (run,) = decided_runs(gate, pooled, RULES[0], classes, good_class)[decided_name(RULES[0], MODEL)]
    return gate, list(run.original_ids), np.asarray(run.y_true), np.asarray(run.y_pred)


def compare(repo: Path, rev: str, holdout: Path, manifest: Path, params: dict[str, Any], work: Path) -> dict[str, Any]:
    classes, good_class = list(params["classes"]), str(params["good_class"])
    report = CrossvalConfig.from_section(section(params, "crossval")).report
    reference = score_reference(repo, rev, manifest, work, holdout / "scores")
    gate, ids, y_true, current = predict_label(holdout / "scores", manifest, classes, good_class)
    reference_gate, reference_ids, reference_true, before = predict_label(reference, manifest, classes, good_class)
    if reference_ids != ids or not np.array_equal(reference_true, y_true) or reference_gate.order != gate.order:
        raise DataError(f"{reference}: the reference scores hold other photos than {holdout / 'scores'}; both must score {manifest}.")
    result = paired_labels(y_true, current, before, ids, classes, good_class,
                           resamples=report.bootstrap_resamples, seed=report.bootstrap_seed, confidence=report.confidence)  # fmt: skip
    # The two gates alone, each at the threshold where it first keeps that share of the good photos (the ROC, paired).
    gates = {f"at_specificity_{spec:.2f}": paired_at_specificity(gate.defective, gate.scores, reference_gate.scores, spec)
             for spec in SPECIFICITIES}  # fmt: skip
    return {"label": decided_name(RULES[0], MODEL), "current": "data/holdout/scores", "reference_rev": rev, **result,
            "gate_alone": gates}  # fmt: skip


def as_text(result: dict[str, Any]) -> str:
    lines = [f"{result['label']}: first = current ({result['current']}), second = revision {result['reference_rev']}'s models"]
    lines += figures_lines([(key, result[key]) for key in ("first", "second")], 7)
    lines += naming_lines(result["first_vs_second"], "first", "second")
    for key in ("defects_found", "good_kept"):
        counts = result[key]
        lines.append(f"  {key.replace('_', ' ')}: only first {counts['first_only']}, only second {counts['second_only']}, p = {counts['p_value']:.3g}")
    for key, counts in result["gate_alone"].items():
        lines.append(f"  gate alone {key}: defects found by both {counts['both']}, only first {counts['first_only']}, "
                     f"only second {counts['second_only']} of {counts['defect_photos']}, p = {counts['p_value']:.3g}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-rev", required=True, help="the git revision whose models are the reference")
    parser.add_argument("--holdout", type=Path, default=Path("data/holdout"))
    parser.add_argument("--manifest", type=Path, default=Path("data/holdout/ingested/manifest.csv"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--work", type=Path, help="keep the reference's models and scores here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    setup_logging("INFO")
    repo = Path.cwd()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            work = (args.work or Path(scratch)).resolve()
            result = compare(repo, args.reference_rev, args.holdout, args.manifest.resolve(), load_params(args.params), work)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(as_text(result))
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
