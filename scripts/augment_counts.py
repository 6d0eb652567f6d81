"""Print copies_per_original for augment_train and augment_val/test (the report's Step 5).

Counts the originals per class in an ingest manifest (your own photos once
ingested; without one, the built-in sample's counts from params.yaml), takes
the validation originals from params.yaml (split.val_originals), and prints
the per-class arithmetic and the lines to paste into params.yaml.

    .venv/bin/python scripts/augment_counts.py --scale 10
    .venv/bin/python scripts/augment_counts.py --scale 200 --manifest data/ingested/manifest.csv
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from textile_defects.augment.counts import balanced_copies
from textile_defects.data.manifest import read_manifest
from textile_defects.utils.stage import load_params, run_stage


def _flow(mapping: dict[str, int]) -> str:
    return "{" + ", ".join(f"{label}: {value}" for label, value in mapping.items()) + "}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scale", type=float, required=True, help="growth factor F of every class (report: 200)")
    parser.add_argument("--train-share", type=float, default=0.8, help="share of each class's images in train")
    parser.add_argument("--manifest", type=Path, help="ingest manifest.csv to count originals in")
    args = parser.parse_args()
    params = load_params(args.params)
    if args.manifest:
        counted = Counter(row["label"] for row in read_manifest(args.manifest))
        originals = {label: counted[label] for label in params["classes"]}
    else:
        originals = {label: params["sample"]["counts"][label] for label in params["classes"]}
    val_originals = params["split"]["val_originals"]
    train, val = balanced_copies(originals, val_originals, args.scale, args.train_share)

    lines = [f"{'class':<12} {'n':>5} {'val':>4} {'train/orig':>10} {'val/orig':>8} {'train imgs':>10} {'val imgs':>8}"]
    totals = [0, 0]
    for label, total in originals.items():
        held = val_originals[label]
        train_images, val_images = train[label] * (total - held), val[label] * held
        totals[0] += train_images
        totals[1] += val_images
        lines.append(
            f"{label:<12} {total:>5} {held:>4} {train[label]:>10} {val[label]:>8} {train_images:>10} {val_images:>8}"
        )
    lines.append(f"{'total':<12} {sum(originals.values()):>5} {'':>4} {'':>10} {'':>8} {totals[0]:>10} {totals[1]:>8}")
    lines.append("")
    lines.append(f"augment_train.copies_per_original: {_flow(train)}")
    lines.append(f"augment_val.copies_per_original:   {_flow(val)}   (and augment_test)")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    run_stage(main)
