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
from textile_defects.data.manifest import read_manifest
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.composites import check_composites_independent
from textile_defects.naming.config import NamingConfig
from textile_defects.naming.fit import fit_type_classifier, load_for_gate, name_from_maps
from textile_defects.naming.scores import write_type_scores
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.crossval_type")


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
    if args.fit is not None and (args.originals is None or args.augmented is None or args.composites is None):
        parser.error("--fit needs --originals, --augmented and --composites")
    params = load_params(args.params)
    good = str(params["good_class"])
    defects = tuple(name for name in params["classes"] if name != good)
    encoder = {"encoder": str(params["encoder"]), "weights": str(params["weights"])}
    torch.set_num_threads(available_cores())
    gate, _ = load_gate(args.gate)
    if args.fit is not None:
        check_composites_independent(args.composites, read_manifest(args.scored))
        config = NamingConfig.from_section(section(params, "naming"), VARIANTS)
        manifests = config.training_manifests(args.originals, args.augmented, args.composites)
        model, _ = fit_type_classifier(gate, args.gate, config, manifests, good, defects, **encoder, out=args.fit)
    else:
        model = load_for_gate(args.model, args.gate, defects)
    scored, probabilities = name_from_maps(gate, model, args.scored, args.maps, **encoder)
    write_type_scores(args.out, args.fold, [r["original_id"] for r in scored], [r["label"] for r in scored], probabilities, defects)
    log.info("type fold %d: %d originals named, %s", args.fold, len(scored), args.out)


if __name__ == "__main__":
    run_stage(main)
