"""Stage train_gate: build the normal-only anomaly gate from good training photos; heatmaps of held-out originals.

Writes the gate checkpoint (memory bank, threshold, encoder, settings) and a
PNG of heatmaps: the held-out (val) defect originals and the highest-scoring
held-out good ones (the heatmap sheets' selection, gate.sheets).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.gate.checkpoint import save_gate
from textile_defects.gate.heatmap import write_sheet
from textile_defects.gate.model import GateConfig, fit_gate, good_training_images
from textile_defects.gate.sheets import caption, heatmap_sheets
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.train_gate")


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--train", type=Path, required=True, help="split train manifest.csv (good originals)")
    parser.add_argument("--augmented", type=Path, help="augmented train manifest.csv (copies of the good originals)")
    parser.add_argument("--val", type=Path, required=True, help="held-out originals to draw heatmaps of")
    parser.add_argument("--model", type=Path, required=True, help="output gate checkpoint (.pt)")
    parser.add_argument("--heatmaps", type=Path, required=True, help="output PNG of heatmaps")
    args = parser.parse_args()
    params = load_params(args.params)
    config = GateConfig.from_section(section(params, "gate"), encoder=params["encoder"], weights=params["weights"])
    good_class = params["good_class"]
    torch.set_num_threads(available_cores())
    gate = fit_gate(config, good_training_images(args.train, args.augmented, good_class))
    save_gate(gate, config, args.model)

    rows = read_manifest(args.val)
    scores, maps = gate.score_files([resolve(args.val, row) for row in rows], desc="gate heatmaps")
    order = [row["original_id"] for row in rows]
    sheets = heatmap_sheets(order, [row["label"] for row in rows], scores, [s > gate.threshold for s in scores], good_class)
    frames = []
    for original in sheets.get("heatmaps_defects.png", []) + sheets.get("heatmaps_top_good.png", []):
        i = order.index(original)
        text = caption(original, scores[i], gate.threshold, scores[i] > gate.threshold, rows[i]["label"])
        frames.append((prepare_image(resolve(args.val, rows[i]), gate.image_size), maps[i], text, None))
    write_sheet(args.heatmaps, frames, gate.threshold)
    log.info("gate: wrote %s and %s", args.model, args.heatmaps)


if __name__ == "__main__":
    run_stage(main)
