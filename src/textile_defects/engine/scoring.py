"""Scoring a folder's photos with the gate's engine file: what the hold-out's gate stage runs on CPU.

The same numbers as :meth:`textile_defects.gate.model.Gate.score_files` within the
engine's tolerance (engine/files.py, checked when the file was written and on the
built-in hold-out, docs/engine.md), about 2.5x faster on 2 cores. Each photo is read
with ingest's checks at the gate's frame size (:func:`~textile_defects.data.frames.read_frame`);
the photos are ingest's outputs, so a refusal here means the folder changed under the stage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textile_defects.data.frames import FrameProblem, read_frame
from textile_defects.engine.files import check_source
from textile_defects.engine.session import EngineGate
from textile_defects.errors import DataError
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)


def engine_gate_scores(
    engine_file: str | Path, checkpoint: str | Path, paths: Sequence[str | Path], *, threads: int | None = None, desc: str = "gate scores"
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Image scores (N,), patch-score maps and the threshold of ``checkpoint``'s gate, run from its engine file.

    The engine file must have been exported from exactly ``checkpoint``'s bytes
    (:func:`~textile_defects.engine.files.check_source`), so a stale export is refused, never used.
    """
    gate = EngineGate(engine_file, threads=threads)
    check_source(gate.info, checkpoint)
    log.info("gate on ONNX Runtime (%s, exported from %s)", gate.path, checkpoint)
    scores: list[float] = []
    maps: list[np.ndarray] = []
    for path in progress(paths, desc=desc, unit="img"):
        frame = read_frame(path, [gate.image_size], gate.info.min_frame_size)
        if isinstance(frame, FrameProblem):
            raise DataError(f"{frame}. The photo passed ingest before; re-run `dvc repro` from ingest if the folder changed.")
        image_scores, patch_maps = gate.score(frame.pixels[gate.image_size][None])
        scores.append(float(image_scores[0]))
        maps.append(patch_maps[0])
    return np.array(scores, dtype=np.float64), maps, gate.threshold
