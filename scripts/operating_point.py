"""Predict's label on the hold-out at the gate's stored threshold against a reference target specificity, paired.

    python scripts/operating_point.py --reference-target 0.95          # after `dvc repro holdout/dvc.yaml`
    python scripts/operating_point.py --reference-target 0.95 --out /tmp/operating_point.json

The gate's threshold is a quantile of its held-out good training scores
(``description.held_out_scores`` in models/gate.pt, gate/threshold.py), so the
same gate at another ``gate.target_specificity`` has the same bank and the same
score for every photo: only the threshold moves. This re-decides the hold-out's
stored scores at the threshold the reference target gives, and compares what
predict writes (gate-or-classifier decides, ``--model`` names; the default is
the mix, predict's default label) at both thresholds on the same photos: the F1
macro difference (stored - reference) with its paired bootstrap interval, per
class the photos only one names right (exact McNemar), the defects each finds,
and the good photos each keeps. The pre-registration of draw 20261205
(docs/naming.md) names this comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.scores import load_scores
from textile_defects.decision.as_decided import decided_name, decided_runs
from textile_defects.decision.detectors import GateScores
from textile_defects.decision.operating_points import STORED_MATCH, at_fold_thresholds
from textile_defects.decision.rules import RULES
from textile_defects.errors import DataError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.gate.report import read_gate_scores
from textile_defects.gate.threshold import threshold_for_specificity
from textile_defects.holdout import FOLD
from textile_defects.holdout.paired import paired_labels
from textile_defects.holdout.paired_text import figures_lines, naming_lines
from textile_defects.holdout.report import holdout_plan
from textile_defects.utils.atomic import atomic_write_json
from textile_defects.utils.stage import load_params, section


def compare_operating_points(
    holdout_dir: Path, manifest: Path, gate_path: Path, params: dict[str, Any], *, model: str, reference_target: float
) -> dict[str, Any]:
    """Figures of predict's label at the stored threshold and at ``reference_target``'s, and their paired comparison."""
    classes, good_class = list(params["classes"]), str(params["good_class"])
    report = CrossvalConfig.from_section(section(params, "crossval")).report
    plan = holdout_plan(manifest, classes)
    scores_dir = holdout_dir / "scores"
    gate = GateScores.from_rows(read_gate_scores([scores_dir / f"gate_fold{FOLD}.csv"], plan), good_class)
    _, payload = load_gate(gate_path)
    stored = float(payload["threshold"])
    if np.abs(gate.thresholds - stored).max() > STORED_MATCH:
        raise DataError(
            f"{scores_dir / f'gate_fold{FOLD}.csv'}: its threshold ({gate.thresholds[0]:.6f}) is not {gate_path}'s ({stored:.6f}); "
            "the scores come from another gate: run `dvc repro holdout/dvc.yaml` first."
        )
    held_out = payload["description"].get("held_out_scores")
    if not held_out:
        raise DataError(f"{gate_path}: stores no held-out good scores (description.held_out_scores); rebuild it with `dvc repro train_gate`.")
    reference = threshold_for_specificity(list(held_out.values()), reference_target)
    pooled = load_scores(scores_dir, plan, classes, models=[model])
    name = decided_name(RULES[0], model)
    (at_stored,) = decided_runs(gate, pooled, RULES[0], classes, good_class)[name]
    # The hold-out is one fold (FOLD): every photo re-decided at the reference threshold.
    at_reference_gate = at_fold_thresholds(gate, np.full(len(gate.order), FOLD), {FOLD: reference})
    (at_reference,) = decided_runs(at_reference_gate, pooled, RULES[0], classes, good_class)[name]
    paired = paired_labels(
        np.asarray(at_stored.y_true), np.asarray(at_stored.y_pred), np.asarray(at_reference.y_pred), at_stored.original_ids,
        classes, good_class, resamples=report.bootstrap_resamples, seed=report.bootstrap_seed, confidence=report.confidence,
    )  # fmt: skip
    found = paired["defects_found"]
    return {
        "label": name,
        "target_specificity": float(payload["config"]["target_specificity"]),
        "stored_threshold": stored,
        "reference_target_specificity": reference_target,
        "reference_threshold": reference,
        "threshold_ratio": stored / reference,
        "at_stored": paired["first"],
        "at_reference": paired["second"],
        "stored_vs_reference": paired["first_vs_second"],
        "defects_found_stored_only_vs_reference_only": {
            "stored_only": found["first_only"], "reference_only": found["second_only"], "p_value": found["p_value"],
        },  # fmt: skip
    }


def as_text(result: dict[str, Any]) -> str:
    """A short table for the terminal: both operating points, then the paired comparison."""
    lines = [
        f"{result['label']}: stored threshold {result['stored_threshold']:.4f} (target {result['target_specificity']}) "
        f"vs {result['reference_threshold']:.4f} (target {result['reference_target_specificity']}), ratio {result['threshold_ratio']:.4f}"
    ]
    lines += figures_lines([(key, result[key]) for key in ("at_stored", "at_reference")], 12)
    lines += naming_lines(result["stored_vs_reference"], "stored", "reference")
    found = result["defects_found_stored_only_vs_reference_only"]
    lines.append(f"  defects found only at stored {found['stored_only']}, only at reference {found['reference_only']}, p = {found['p_value']:.3g}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holdout", type=Path, default=Path("data/holdout"))
    parser.add_argument("--manifest", type=Path, default=Path("data/holdout/ingested/manifest.csv"))
    parser.add_argument("--gate", type=Path, default=Path("models/gate.pt"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--model", default="mixed", help="the namer whose score file names the defect (default: mixed, predict's default)")
    parser.add_argument("--reference-target", type=float, required=True, help="the target specificity to compare against")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    try:
        result = compare_operating_points(
            args.holdout, args.manifest, args.gate, load_params(args.params), model=args.model, reference_target=args.reference_target
        )
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(as_text(result))
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
