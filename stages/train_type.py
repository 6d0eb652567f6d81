"""Stage train_type: the type classifier that names the defect from the gate's evidence where it points.

Fitted on the training split's defect photos (their augmented copies with
naming.train_images: augmented) and, with naming.composites, the transplanted
composites; their evidence comes from the pipeline's gate, built from good
photos only, so its map of a training defect is fair. Writes <model> (.npz).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from textile_defects.crossval.config import VARIANTS
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.config import NamingConfig
from textile_defects.naming.fit import fit_type_classifier
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.train_type")


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--originals", type=Path, required=True, help="training originals' manifest.csv")
    parser.add_argument("--augmented", type=Path, required=True, help="their augmented copies' manifest.csv")
    parser.add_argument("--composites", type=Path, required=True, help="the transplant stage's manifest.csv")
    parser.add_argument("--gate", type=Path, required=True, help="the gate (models/gate.pt)")
    parser.add_argument("--model", type=Path, required=True, help="type model (.npz) to write")
    args = parser.parse_args()
    params = load_params(args.params)
    good = str(params["good_class"])
    config = NamingConfig.from_section(section(params, "naming"), VARIANTS)
    torch.set_num_threads(available_cores())
    manifests = config.training_manifests(args.originals, args.augmented, args.composites)
    _, images = fit_type_classifier(
        load_gate(args.gate)[0], args.gate, config, manifests, good, [name for name in params["classes"] if name != good],
        encoder=str(params["encoder"]), weights=str(params["weights"]), out=args.model,
    )  # fmt: skip
    log.info("train_type: %s from %d defect images (%s), evidence %s", args.model, images,
             " + ".join(str(m) for m in manifests), list(config.evidence))  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
