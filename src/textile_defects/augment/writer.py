"""Write an augmented set: every (original, copy) pair, across all cores, streamed to disk.

Copy k of original o is a pure function of (seed, o, k): its operations come
from ``rng_for(seed, o, k)`` and nothing else, so the bytes do not depend on
the number of workers, the order they finish in, or a rerun. Workers get
small tasks (one original, a run of copy indices), decode the original once
per task, write each JPEG as soon as it is made and send back only its
manifest row: memory stays flat however many copies are asked for.

Output (built under a temporary folder, swapped in when complete)::

    <out>/manifest.csv
    <out>/images/<class>/<original_id>_<k:04d>.jpg
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from textile_defects.augment.geometry import MAX_SIDE_PX
from textile_defects.augment.ops import Operation, apply_operations
from textile_defects.augment.policy import draw_operations
from textile_defects.augment.settings import AugmentSettings
from textile_defects.data.manifest import IMAGES_DIR, MANIFEST_NAME, read_manifest, resolve, sha256_bytes, write_manifest
from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_output_dir
from textile_defects.utils.logs import progress
from textile_defects.utils.params import available_cores
from textile_defects.utils.seeding import rng_for

log = logging.getLogger(__name__)

MAX_COPIES_PER_TASK = 32
"""Long enough to amortise decoding the original, short enough to balance the workers."""

# Fixed encoder settings (4:2:0 chroma, baseline, no optimisation pass):
# part of what makes a rerun byte-identical.
_JPEG_FLAGS = (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, cv2.IMWRITE_JPEG_OPTIMIZE, 0)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class CopyTask:
    """Copies ``first_copy`` .. ``stop_copy - 1`` of input row ``row_index``."""

    row_index: int
    first_copy: int
    stop_copy: int


def plan_tasks(rows: Sequence[Mapping[str, str]], copies_per_original: Mapping[str, int]) -> list[CopyTask]:
    """Split every row's copies into tasks of at most :data:`MAX_COPIES_PER_TASK`."""
    tasks = []
    for index, row in enumerate(rows):
        copies = copies_per_original[row["label"]]
        for first in range(0, copies, MAX_COPIES_PER_TASK):
            tasks.append(CopyTask(index, first, min(first + MAX_COPIES_PER_TASK, copies)))
    return tasks


def copy_operations(settings: AugmentSettings, label: str, original_id: str, copy_index: int) -> list[Operation]:
    """The operation records of copy ``copy_index`` of ``original_id`` (a pure function of its arguments)."""
    if settings.keep_original and copy_index == 0:
        return []
    rng = rng_for(settings.seed, original_id, copy_index)
    return draw_operations(settings.policy.probabilities[label], settings.policy.ranges, rng)


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes of an (H, W, 3) uint8 RGB array, with fixed encoder settings."""
    # OpenCV encodes BGR; its libjpeg-turbo is as fast as Pillow's, without the copy into a PIL image.
    flags = (cv2.IMWRITE_JPEG_QUALITY, quality, *_JPEG_FLAGS)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), flags)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {pixels.shape} image as JPEG")
    return encoded.tobytes()


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 RGB array; a :class:`DataError` naming the file if unreadable."""
    try:
        with Image.open(path) as opened:
            return np.asarray(opened.convert("RGB"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read this image ({exc}); re-run the ingest stage.") from exc


def copy_name(original_id: str, copy_index: int) -> str:
    """File name of one copy: ``<original_id>_<k:04d>.jpg``."""
    return f"{original_id}_{copy_index:04d}.jpg"


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, sent once when it starts."""

    rows: tuple[Mapping[str, str], ...]
    sources: tuple[str, ...]
    out_dir: str
    settings: AugmentSettings


class _CopyWriter:
    """Renders and writes the copies of a task; keeps the last decoded original."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self._cached_index = -1
        self._cached_pixels: np.ndarray | None = None

    def _original(self, row_index: int) -> np.ndarray:
        if row_index != self._cached_index:
            self._cached_pixels = read_rgb(self.job.sources[row_index])
            self._cached_index = row_index
        assert self._cached_pixels is not None
        return self._cached_pixels

    def __call__(self, task: CopyTask) -> list[dict[str, object]]:
        row = self.job.rows[task.row_index]
        settings = self.job.settings
        original = self._original(task.row_index)
        written = []
        for copy_index in range(task.first_copy, task.stop_copy):
            operations = copy_operations(settings, row["label"], row["original_id"], copy_index)
            pixels = apply_operations(original, operations, settings.policy.interpolation)
            data = encode_jpeg(pixels, settings.policy.jpeg_quality)
            relative = f"{IMAGES_DIR}/{row['label']}/{copy_name(row['original_id'], copy_index)}"
            with open(Path(self.job.out_dir) / relative, "wb") as handle:
                handle.write(data)
            written.append(
                {
                    "path": relative,
                    "label": row["label"],
                    "original_id": row["original_id"],
                    "sha256": sha256_bytes(data),
                    "width": pixels.shape[1],
                    "height": pixels.shape[0],
                    "source_file": row.get("source_file", ""),
                    "split": row.get("split", ""),
                    "copy_index": copy_index,
                    "operations": json.dumps(operations, separators=(",", ":"), sort_keys=True),
                }
            )
        return written


_WORKER: _CopyWriter | None = None


def _init_worker(job: _Job) -> None:
    global _WORKER
    _WORKER = _CopyWriter(job)


def _run_in_worker(task: CopyTask) -> list[dict[str, object]]:
    assert _WORKER is not None, "worker used before _init_worker"
    return _WORKER(task)



def _check_rows(rows: Sequence[Mapping[str, str]], manifest_path: Path, settings: AugmentSettings) -> list[str]:
    """The image path of every row; every problem with the input listed at once."""
    problems = []
    sources = []
    seen: Counter[str] = Counter(row["original_id"] for row in rows)
    for row in rows:
        source = resolve(manifest_path, row)
        sources.append(str(source))
        if row["label"] not in settings.copies_per_original:
            problems.append(
                f"{row['path']}: class {row['label']!r} is not in params classes "
                f"({', '.join(settings.copies_per_original)})"
            )
        if not _SAFE_ID.match(row["original_id"]):
            problems.append(f"{row['path']}: original_id {row['original_id']!r} is not file-name safe")
        if seen[row["original_id"]] > 1:
            problems.append(f"{row['path']}: original_id {row['original_id']!r} appears more than once")
        if not source.is_file():
            problems.append(f"{row['path']}: image not found at {source}")
        sides = [int(row[side]) for side in ("width", "height") if str(row.get(side, "")).isdigit()]
        if sides and max(sides) > MAX_SIDE_PX:
            problems.append(
                f"{row['path']}: {max(sides)} px on one side; the warp handles at most {MAX_SIDE_PX} px "
                "(downscale such photos before ingest)"
            )
    if problems:
        listed = "\n  ".join(problems)
        raise DataError(f"{manifest_path}: cannot augment these rows (re-run ingest and split):\n  {listed}")
    return sources


def _run_tasks(
    job: _Job, tasks: Sequence[CopyTask], workers: int, start_method: str | None
) -> Iterator[list[dict[str, object]]]:
    """Rows per finished task, in completion order; in this process when ``workers`` is 1."""
    if workers == 1:
        writer = _CopyWriter(job)
        yield from (writer(task) for task in tasks)
        return
    # Not multiprocessing.Pool: when a task fails (a full disk), the Pool's terminate() can
    # deadlock on a queue lock an idle worker holds, and the stage hangs instead of reporting
    # (seen about once in 25 runs of tests/e2e/test_full_disk.py). The executor lets the
    # running tasks finish, drops the queued ones, and the error reaches the caller.
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method),
                                   initializer=_init_worker, initargs=(job,))
    try:
        futures = [executor.submit(_run_in_worker, task) for task in tasks]
        for finished in as_completed(futures):
            yield finished.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def write_augmented_set(
    manifest_path: str | Path,
    out_dir: str | Path,
    settings: AugmentSettings,
    *,
    name: str = "augment",
    start_method: str | None = None,
) -> list[dict[str, object]]:
    """Augment every row of a split manifest into ``out_dir``; returns the written manifest rows.

    ``settings.policy.workers`` processes (0 = all cores) share the work;
    ``start_method`` picks how they start ("fork", "spawn"; None = the
    platform's default). ``name`` labels the progress bar and log lines.
    """
    manifest_path = Path(manifest_path)
    rows = read_manifest(manifest_path)
    sources = _check_rows(rows, manifest_path, settings)
    tasks = plan_tasks(rows, settings.copies_per_original)
    total = sum(task.stop_copy - task.first_copy for task in tasks)
    workers = max(1, min(settings.policy.workers or available_cores(), len(tasks)))
    log.info("%s: %d originals -> %d images with %d worker(s)", name, len(rows), total, workers)

    started = time.perf_counter()
    written: list[dict[str, object]] = []
    with atomic_output_dir(out_dir) as staging:
        for label in sorted({row["label"] for row in rows}):
            (staging / IMAGES_DIR / label).mkdir(parents=True)
        job = _Job(tuple(rows), tuple(sources), str(staging), settings)
        with progress(total=total, desc=name, unit="img") as bar:
            for finished in _run_tasks(job, tasks, workers, start_method):
                written.extend(finished)
                bar.update(len(finished))
        write_manifest(staging / MANIFEST_NAME, written)
    seconds = time.perf_counter() - started
    per_class = Counter(str(row["label"]) for row in written)
    log.info(
        "%s: wrote %d images in %.1f s (%.0f images/s): %s",
        name,
        len(written),
        seconds,
        len(written) / max(seconds, 1e-9),
        ", ".join(f"{label} {count}" for label, count in sorted(per_class.items())),
    )
    return written
