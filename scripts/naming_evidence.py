"""Which evidence names the defect? Type classifiers on the gate's native-pixel evidence, compared with the classifiers.

    python scripts/naming_evidence.py cv                     # the CV's folds (after `dvc repro crossval/dvc.yaml`)
    python scripts/naming_evidence.py dev data/dev/ingested/manifest.csv   # train on the split, name a development draw

Every defect photo's evidence (textile_defects.naming.evidence: the gate's
region shape and windows of the stored frame around its peak) comes from the
pipeline's gate, models/gate.pt: it is built from good photos only, so its map
of any defect photo is fair. A type classifier (textile_defects.naming.model)
per evidence set is trained on defect training images only (each CV fold's
augmented training set; or the pipeline's data/augmented/train) and names the
scored defect photos. The classifiers' own naming is shown beside it: the
argmax over the defect classes of their probabilities ("type given defect"),
and their plain argmax. Counts are photos. Evidence is cached in
data/naming_evidence/ (keyed by file path; delete it to recompute).
"""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.crossval.folds import fold_manifest
from textile_defects.crossval.inference_adapter import predict_checkpoint
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.evidence import extractor_for
from textile_defects.naming.model import fit_type_model
from textile_defects.utils.stage import load_params, run_stage

log = logging.getLogger("naming_evidence")

PARTS = ("shape", "profile")
VARIANTS: dict[str, tuple[str, ...]] = {
    "shape cues": ("shape",),
    "profile cues": ("profile",),
    "shape + profile cues": ("shape", "profile"),
}
Row = tuple[Path, str, str]  # path, label, original_id


def load_evidence(paths: Sequence[Path], gate_path: Path, params: Mapping, cache: Path, level: float) -> dict[str, dict[str, np.ndarray]]:
    """``{path: {part: vector}}`` for ``paths``, computing only what the cache lacks."""
    cache.mkdir(parents=True, exist_ok=True)
    store = cache / f"evidence_level{level}.npz"
    known: dict[str, dict[str, np.ndarray]] = {}
    if store.is_file():
        with np.load(store) as archive:
            for key in archive.files:
                path, part = key.rsplit("|", 1)
                known.setdefault(path, {})[part] = archive[key]
    todo = [path for path in paths if str(path) not in known]
    if todo:
        gate, _ = load_gate(gate_path)
        extractor = extractor_for(gate, PARTS, level, str(params["encoder"]), str(params["weights"]), tuple(params["naming"]["image_size"]))
        for path, evidence in zip(todo, extractor.from_files(todo), strict=True):
            known[str(path)] = evidence.parts
        np.savez(store, **{f"{path}|{part}": vector for path, parts in known.items() for part, vector in parts.items()})
    return known


def name_with_variants(train: Sequence[Row], test: Sequence[Row], evidence: Mapping, defects: Sequence[str], c: float) -> dict[str, dict[str, str]]:
    """Per variant, ``{original_id: named class}`` for the ``test`` rows."""
    named: dict[str, dict[str, str]] = {}
    for name, parts in VARIANTS.items():
        def matrix(rows: Sequence[Row]) -> np.ndarray:
            return np.stack([np.concatenate([evidence[str(p)][part] for part in parts]) for p, _, _ in rows])

        model = fit_type_model(matrix(train), [label for _, label, _ in train], defects, parts, c=c, seed=0)
        chosen = model.probabilities(matrix(test)).argmax(1)
        named[name] = {original: defects[int(k)] for (_, _, original), k in zip(test, chosen, strict=True)}
    return named


def classifier_naming(probabilities: np.ndarray, classes: Sequence[str], defects: Sequence[str]) -> tuple[list[str], list[str]]:
    """(type given defect, own argmax) per row of (N, C) class probabilities."""
    defect_columns = [list(classes).index(name) for name in defects]
    given = [defects[int(k)] for k in probabilities[:, defect_columns].argmax(1)]
    own = [classes[int(k)] for k in probabilities.argmax(1)]
    return given, own


def table(named: Mapping[str, Mapping[str, str]], truth: Mapping[str, str], defects: Sequence[str]) -> str:
    header = ["naming", "named right", *defects]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, answers in named.items():
        right = [o for o in truth if answers.get(o) == truth[o]]
        cells = [f"{sum(truth[o] == c for o in right)}/{sum(truth[o] == c for o in truth)}" for c in defects]
        lines.append(f"| {name} | {len(right)}/{len(truth)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def defect_rows(manifest: Path, good: str) -> list[Row]:
    return [(resolve(manifest, r), r["label"], r["original_id"]) for r in read_manifest(manifest) if r["label"] != good]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("cv", "dev"))
    parser.add_argument("test_manifest", nargs="?", type=Path, help="dev: the development draw's ingest manifest")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--gate", type=Path, default=Path("models/gate.pt"))
    parser.add_argument("--cache", type=Path, default=Path("data/naming_evidence"))
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--train", type=Path, default=Path("data/augmented/train/manifest.csv"),
                        help="dev: the training images (default: the augmented training set; data/split/train/manifest.csv: the originals)")
    parser.add_argument("--extra-train", type=Path, action="append", default=[],
                        help="dev: more training images (e.g. transplanted composites' manifest.csv); repeatable")
    parser.add_argument("--cv-scores", type=Path, default=Path("data/sweeps/report_post_baseline/defaults/scores"),
                        help="cv: out-of-fold classifier scores to compare with")
    args = parser.parse_args()
    params = load_params(args.params)
    classes = tuple(params["classes"])
    good = str(params["good_class"])
    defects = [name for name in classes if name != good]
    named: dict[str, dict[str, str]] = {}
    truth: dict[str, str] = {}
    if args.mode == "cv":
        folds = list(params["crossval"]["folds"])
        splits = {fold: (defect_rows(Path(f"data/crossval/fold_{fold}/augmented/manifest.csv"), good),
                         defect_rows(fold_manifest(Path("data/crossval/plan"), fold, "scored"), good)) for fold in folds}  # fmt: skip
        evidence = load_evidence(sorted({p for rows in splits.values() for part in rows for p, _, _ in part}), args.gate, params, args.cache, args.level)
        for train, test in splits.values():
            for variant, answers in name_with_variants(train, test, evidence, defects, args.c).items():
                named.setdefault(variant, {}).update(answers)
            truth.update({original: label for _, label, original in test})
        for path in sorted(args.cv_scores.glob("*.csv")):
            with path.open() as handle:
                rows = [row for row in csv.DictReader(handle) if row["label"] != good]
            given, own = classifier_naming(np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows]), classes, defects)
            model = path.stem.rsplit("_fold", 1)[0]
            named.setdefault(f"{model}: type given defect", {}).update({r["original_id"]: g for r, g in zip(rows, given)})
            named.setdefault(f"{model}: own argmax", {}).update({r["original_id"]: o for r, o in zip(rows, own)})
    else:
        if args.test_manifest is None:
            parser.error("dev needs the development draw's manifest")
        train = defect_rows(args.train, good)
        extra = [row for manifest in args.extra_train for row in defect_rows(manifest, good)]
        test = defect_rows(args.test_manifest, good)
        evidence = load_evidence([p for p, _, _ in train + extra + test], args.gate, params, args.cache, args.level)
        named.update(name_with_variants(train, test, evidence, defects, args.c))
        if extra:
            with_extra = name_with_variants(train + extra, test, evidence, defects, args.c)
            named.update({f"{name} + composites": answers for name, answers in with_extra.items()})
        truth = {original: label for _, label, original in test}
        for model in ("baseline", "post_baseline"):
            model_classes, probabilities = predict_checkpoint(Path(f"models/{model}.pt"), [p for p, _, _ in test], batch_size=16, device="cpu")
            given, own = classifier_naming(probabilities, model_classes, defects)
            named[f"{model}: type given defect"] = {o: g for (_, _, o), g in zip(test, given)}
            named[f"{model}: own argmax"] = {o: w for (_, _, o), w in zip(test, own)}
    print(table(named, truth, defects), end="")


if __name__ == "__main__":
    run_stage(main)
