"""Stage cv_features: pooled ImageNet features of every ingested ORIGINAL, for the linear probe.

The whole frame, resized to the encoder's square input, through the params
encoder with the params weights. Computed once: features do not depend on the fold.
Writes <out>/features.npy (N, D) and <out>/original_ids.txt (N lines).
"""

from __future__ import annotations

from pathlib import Path

from textile_defects.crossval.config import CrossvalConfig
from textile_defects.crossval.inference_adapter import encoder_features
from textile_defects.crossval.probe import save_features
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.utils.atomic import atomic_output_dir
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser


def main() -> None:
    keep_freed_memory()  # CPU: reuse freed buffers instead of page-faulting each batch
    parser = stage_parser(__doc__)
    parser.add_argument("--manifest", type=Path, required=True, help="ingest manifest.csv")
    parser.add_argument("--out", type=Path, required=True, help="features folder, replaced as a whole")
    args = parser.parse_args()
    params = load_params(args.params)
    config = CrossvalConfig.from_section(section(params, "crossval"))
    rows = sorted(read_manifest(args.manifest), key=lambda row: row["original_id"])
    features = encoder_features(
        str(params["encoder"]), str(params["weights"]), [resolve(args.manifest, row) for row in rows],
        batch_size=config.batch_size, device=config.device,
    )
    with atomic_output_dir(args.out) as staging:
        save_features(staging, [row["original_id"] for row in rows], features)


if __name__ == "__main__":
    run_stage(main)
