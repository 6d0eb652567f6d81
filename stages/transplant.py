"""Stage transplant: the training split's defects transplanted onto its good photos (more defect examples than photos).

Writes <out>/images/<class>/transplant_<k>.png, <out>/manifest.csv (each row's
original_id is the source defect; operations holds the background and the
paste) and <grid> (whole composites, and native-pixel close-ups of their seams, the
pasted region outlined a few pixels outside it so the seam itself stays visible).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from textile_defects.crossval.config import VARIANTS
from textile_defects.gate.checkpoint import load_gate
from textile_defects.naming.composites import composite_grid, write_composites
from textile_defects.naming.config import NamingConfig, transplant_settings
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_bytes
from textile_defects.utils.params import available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.transplant")


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training originals' manifest.csv (defects and good photos)")
    parser.add_argument("--gate", type=Path, required=True, help="the gate whose maps locate each defect (built from good photos only)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the composites and their manifest into")
    parser.add_argument("--grid", type=Path, required=True, help="picture grid of the composites (.jpg: a PNG of knit texture is ~10 MB)")
    args = parser.parse_args()
    params = load_params(args.params)
    good = str(params["good_class"])
    defects = [name for name in params["classes"] if name != good]
    settings, nearest, thumb = transplant_settings(section(params, "transplant"), defects)
    naming = NamingConfig.from_section(section(params, "naming"), VARIANTS)
    torch.set_num_threads(available_cores())
    gate, _ = load_gate(args.gate)
    with atomic_output_dir(args.out) as staging:
        composites = write_composites(args.train, gate, settings, good_class=good, level=naming.level, nearest=nearest,
                                      out=staging, image_size=naming.image_size)
    ok, encoded = cv2.imencode(args.grid.suffix or ".jpg", np.ascontiguousarray(composite_grid(composites, 4, thumb)[..., ::-1]))
    if not ok:
        raise OSError(f"could not encode {args.grid} (use .jpg or .png)")
    atomic_write_bytes(args.grid, encoded.tobytes())
    log.info("transplant: %d composites in %s, grid %s", len(composites.rows), args.out, args.grid)


if __name__ == "__main__":
    run_stage(main)
