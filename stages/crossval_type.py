"""Stage cv_type / holdout_type: name the defect of scored originals with the type classifier.

In the CV (``--fit``) it first fits the fold's own type classifier on the
fold's training defects and composites, with the fold's gate (built from the
fold's good training photos only), and writes it to <model>. On the hold-out
(``--model``) it reads the pipeline's trained one. Either way the scored
originals' evidence comes from the patch maps the gate stage already wrote
(<maps>), and the result is <out> (type_fold<k>.csv, textile_defects.naming.scores).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from textile_defects.crossval.config import VARIANTS
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import DataError
from textile_defects.gate.checkpoint import load_gate
from textile_defects.gate.localisation import load_maps
from textile_defects.naming.checkpoint import load_type_model, save_type_model
from textile_defects.naming.classify import defect_images, fit_on_images, name_images
from textile_defects.naming.composites import transplant_records
from textile_defects.naming.config import NamingConfig
from textile_defects.naming.evidence import extractor_for
from textile_defects.naming.scores import write_type_scores
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.crossval_type")


def check_composites_independent(composites: Path, scored: list[dict[str, str]]) -> None:
    """Refuse composites that carry a scored photo's region or background (they would leak it into training)."""
    scored_ids = {row["original_id"] for row in scored}
    leaked = sorted({o for pair in transplant_records(read_manifest(composites)) for o in pair if o in scored_ids})
    if leaked:
        raise DataError(
            f"{composites}: composites use scored photo(s) {leaked[:5]} as defect or background; a fold's composites "
            "must come from its training photos only. Re-run its transplant stage from the fold's train manifest."
        )


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--fold", type=int, required=True)
    parser.add_argument("--gate", type=Path, required=True, help="the gate whose maps <maps> holds")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--fit", type=Path, help="type model (.npz) to fit and write (the CV)")
    mode.add_argument("--model", type=Path, help="a trained type model (.npz) to name with (the hold-out)")
    parser.add_argument("--originals", type=Path, help="with --fit: the fold's training originals' manifest.csv")
    parser.add_argument("--augmented", type=Path, help="with --fit: their augmented copies' manifest.csv")
    parser.add_argument("--composites", type=Path, help="with --fit: the fold's transplant manifest.csv")
    parser.add_argument("--scored", type=Path, required=True, help="the scored originals' manifest.csv")
    parser.add_argument("--maps", type=Path, required=True, help="the gate stage's maps_fold<k>.npz of the scored originals")
    parser.add_argument("--out", type=Path, required=True, help="type_fold<k>.csv to write")
    args = parser.parse_args()
    params = load_params(args.params)
    good = str(params["good_class"])
    defects = tuple(name for name in params["classes"] if name != good)
    config = NamingConfig.from_section(section(params, "naming"), VARIANTS)
    torch.set_num_threads(available_cores())
    gate, _ = load_gate(args.gate)
    scored = read_manifest(args.scored)
    if args.fit is not None:
        if args.originals is None or args.augmented is None or args.composites is None:
            parser.error("--fit needs --originals, --augmented and --composites")
        check_composites_independent(args.composites, scored)
        extractor = extractor_for(gate, config.evidence, config.level, str(params["encoder"]), str(params["weights"]))
        manifests = config.training_manifests(args.originals, args.augmented, args.composites)
        model = fit_on_images(extractor, defect_images(manifests, good), defects, c=config.c, seed=config.seed)
        save_type_model(model, args.gate, args.fit)
    else:
        model = load_type_model(args.model, args.gate)
        if model.classes != defects:
            raise DataError(f"{args.model}: names {list(model.classes)}, but params' defect classes are {list(defects)}; re-run train_type.")
        extractor = extractor_for(gate, model.parts, model.level, str(params["encoder"]), str(params["weights"]))
    maps = load_maps([args.maps])
    missing = [row["original_id"] for row in scored if row["original_id"] not in maps]
    if missing:
        raise DataError(f"{args.maps}: no patch map of {missing[:5]}; re-run the gate stage that writes it.")
    probabilities = name_images(
        extractor, model, [resolve(args.scored, row) for row in scored], {i: maps[row["original_id"]] for i, row in enumerate(scored)}
    )
    write_type_scores(args.out, args.fold, [r["original_id"] for r in scored], [r["label"] for r in scored], probabilities, defects)
    log.info("type fold %d: %d originals named, %s", args.fold, len(scored), args.out)


if __name__ == "__main__":
    run_stage(main)
