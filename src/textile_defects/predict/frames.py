"""Frames in, predictions out: each file decoded once, ahead of the models, in reading threads.

Decoding (PIL releases the GIL) overlaps the models' forward passes: while a
batch is judged, the next ones are read. A file that is not a frame ingest
would accept becomes a prediction with the reason and never stops the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from textile_defects.data.frames import Frame, FrameProblem, read_frame
from textile_defects.predict.judges import FramePrediction, Judge


def problem_text(problem: FrameProblem) -> str:
    """The row's error for a frame that is not judged: the file, the kind of problem and ingest's words."""
    if problem.kind == "too_small":
        return f"{problem.path}: refused as ingest refuses it (too_small): {problem.message}"
    return f"{problem.path}: not a readable image ({problem.kind}): {problem.message}"


def unjudged(problem: FrameProblem) -> FramePrediction:
    return FramePrediction(problem.path, None, problem_text(problem))


def read_ahead(
    paths: Sequence[Path], sizes: Sequence[tuple[int, int]], min_size: tuple[int, int], *, workers: int, ahead: int
) -> Iterator[Frame | FrameProblem]:
    """Each of ``paths`` read by :func:`~textile_defects.data.frames.read_frame`, in order, up to ``ahead`` files in advance."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[Future[Frame | FrameProblem]] = deque()
        for path in paths:
            pending.append(pool.submit(read_frame, path, sizes, min_size))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def judge_all(
    judge: Judge,
    items: Iterator[Frame | FrameProblem],
    *,
    batch_size: int,
    on_judged: Callable[[Frame, FramePrediction], None] | None = None,
) -> Iterator[FramePrediction]:
    """Predictions for ``items`` in order; frames are judged ``batch_size`` at a time, problems pass through.

    ``on_judged`` sees each judged frame with its prediction while the pixels are at hand (heatmaps).
    """
    batch: list[Frame] = []
    held: list[FramePrediction | int] = []

    def flush() -> Iterator[FramePrediction]:
        judged = judge.judge(batch) if batch else []
        if on_judged is not None:
            for frame, prediction in zip(batch, judged, strict=True):
                on_judged(frame, prediction)
        for entry in held:
            yield judged[entry] if isinstance(entry, int) else entry
        batch.clear()
        held.clear()

    for item in items:
        if isinstance(item, FrameProblem):
            held.append(unjudged(item))
        else:
            held.append(len(batch))
            batch.append(item)
        if len(batch) >= batch_size:
            yield from flush()
    yield from flush()
