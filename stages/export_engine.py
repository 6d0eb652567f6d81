"""Stage export_engine: the classifiers and the gate as engine files (ONNX) beside their checkpoints.

``models/<name>.pt`` -> ``models/<name>.onnx``, each checked against PyTorch on a
probe frame before it is written (textile_defects.engine.export). Each file
records the SHA-256 of the checkpoint it came from, so predict refuses a stale
one, and ingest's smallest accepted frame (``ingest.min_width``,
``ingest.min_height``), which predict applies to every frame it judges.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from textile_defects.engine.export import export_classifier, export_gate
from textile_defects.engine.files import engine_path
from textile_defects.gate.checkpoint import FORMAT as GATE_FORMAT
from textile_defects.utils.params import SectionReader, available_cores
from textile_defects.utils.stage import load_params, run_stage, section, stage_parser

log = logging.getLogger("stages.export_engine")


def is_gate(path: Path) -> bool:
    """Whether a checkpoint is a gate (its payload names the gate format) rather than a classifier."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return isinstance(payload, dict) and payload.get("format") == GATE_FORMAT


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("checkpoints", type=Path, nargs="+", help="classifier and gate checkpoints (.pt); each gets its .onnx beside it")
    args = parser.parse_args()
    params = load_params(args.params)
    reader = SectionReader(section(params, "ingest"), "ingest")
    min_frame_size = (reader.integer("min_width", minimum=1), reader.integer("min_height", minimum=1))
    reader.finish(known=list(section(params, "ingest")))
    torch.set_num_threads(available_cores())
    for checkpoint in args.checkpoints:
        export = export_gate if is_gate(checkpoint) else export_classifier
        export(checkpoint, engine_path(checkpoint), min_frame_size=min_frame_size)


if __name__ == "__main__":
    run_stage(main)
