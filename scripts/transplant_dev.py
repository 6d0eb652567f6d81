"""Composites for the naming experiment: the training split's defects transplanted onto its good photos.

    python scripts/transplant_dev.py --out data/transplant_dev --per-class 48

Regions come from the pipeline's gate (models/gate.pt). Writes
<out>/images/<class>/<name>.png, <out>/manifest.csv (original_id = the source
defect; operations = JSON with the background and the paste), and two picture
grids: <out>/sheet.png (all classes) and <out>/closeups.png (native-pixel
crops around pastes, to check the seams).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import COLUMNS, read_manifest, resolve, write_manifest
from textile_defects.gate.checkpoint import load_gate
from textile_defects.gate.regions import crop, gate_region, window_box
from textile_defects.naming.transplant import TransplantSettings, composite_sheet, knit_period, plan_composites, transplant
from textile_defects.utils.logs import progress
from textile_defects.utils.stage import load_params, run_stage

log = logging.getLogger("transplant_dev")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--train", type=Path, default=Path("data/split/train/manifest.csv"))
    parser.add_argument("--gate", type=Path, default=Path("models/gate.pt"))
    parser.add_argument("--out", type=Path, default=Path("data/transplant_dev"))
    parser.add_argument("--per-class", type=int, default=48)
    parser.add_argument("--level", type=float, default=0.5)
    args = parser.parse_args()
    params = load_params(args.params)
    good = str(params["good_class"])
    defect_classes = [name for name in params["classes"] if name != good]
    settings = TransplantSettings(
        seed=505, composites_per_class={name: args.per_class for name in defect_classes},
        segment_probability={"lycra_cut": 0.8, "needle": 0.3, "hole": 0.0, "twoply": 0.0},
        segment_fraction=(0.2, 1.0), margin_px=6, align_px=6,
    )  # fmt: skip
    rows = {row["original_id"]: row for row in read_manifest(args.train)}
    defects = {name: sorted(o for o, r in rows.items() if r["label"] == name) for name in defect_classes}
    backgrounds = sorted(o for o, r in rows.items() if r["label"] == good)
    gate, _ = load_gate(args.gate)
    size = gate.image_size
    # Every photo is read once: sources for their regions, backgrounds for each paste, both for their stitch size.
    frames = {o: prepare_image(resolve(args.train, rows[o]), size) for o in sorted({s for v in defects.values() for s in v})}
    grounds = {o: prepare_image(resolve(args.train, rows[o]), size) for o in backgrounds}
    regions = {o: gate_region(gate.patch_scores(frame), size, gate.border_patches, args.level) for o, frame in frames.items()}
    periods = {o: knit_period(pixels) for o, pixels in {**frames, **grounds}.items()}
    out_rows, tiles, closeups = [], [], []
    plan = plan_composites(defects, backgrounds, settings, periods)
    for index, label, source, background in progress(plan, desc="transplant", unit="img"):
        composite = transplant(frames[source], regions[source], grounds[background], label=label, settings=settings, index=index)
        name = f"{label}/transplant_{index:04d}.png"
        path = args.out / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), composite.pixels[..., ::-1])
        row = dict.fromkeys(COLUMNS, "")
        row.update(path=f"images/{name}", label=label, original_id=source, width=str(size[0]), height=str(size[1]),
                   source_file=rows[source]["source_file"], split="train", copy_index=str(index),
                   operations=json.dumps({"transplant": {"background": background, **composite.record}}))  # fmt: skip
        out_rows.append(row)
        if index % max(1, args.per_class // 6) == 0:
            tiles.append((composite.pixels, composite.mask, f"{label} on {background[-3:]} f={composite.record['segment_fraction']}"))
            x0, y0, x1, y1 = composite.record["box"]
            box = window_box(((x0 + x1) / 2, (y0 + y1) / 2), size, 320)
            closeups.append((crop(composite.pixels, box), crop(composite.mask, box), f"{label} {index}"))
    write_manifest(args.out / "manifest.csv", out_rows)
    cv2.imwrite(str(args.out / "sheet.png"), composite_sheet(tiles, 4, 318)[..., ::-1])
    cv2.imwrite(str(args.out / "closeups.png"), composite_sheet(closeups, 6, 320)[..., ::-1])
    log.info("wrote %d composites to %s", len(out_rows), args.out)


if __name__ == "__main__":
    run_stage(main)
