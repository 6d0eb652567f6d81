"""Watch mode: judge frames as they land in a folder, appending one CSV row per frame.

    python -m textile_defects.predict incoming/ --watch --out line.csv

Plain polling (``os.scandir`` every ``--poll`` seconds), not file-system
events: a camera PC usually writes into a network share (SMB, NFS), where
inotify and its kin see nothing of writes made by another machine, and a poll
also finds what landed while predict was not running. One look at a folder of
10,000 frames costs a few milliseconds.

- A file is read once its size and modification time have stayed unchanged for
  ``--settle`` seconds: a camera still writing it is left alone.
- A file that still reads as truncated or empty is retried until ``--retry-for``
  seconds after it was first seen, then gets a row saying so; any other file
  ingest would refuse gets its row at once. A frame is never judged twice:
  the CSV is the ledger. On start its rows are read and their files skipped, so a
  restart takes up where the last run stopped (a row cut off by a crash is
  dropped and its frame judged again); each row is flushed to disk as written.
- A burst is a backlog, not a failure: frames wait in landing order and are
  judged ``--batch-size`` at a time, and the log says how many wait and how long
  the oldest has waited. At the end, the latency from landing (the file's
  modification time) to its row: median and 95th percentile.

A file is known by its path below the folder: a frame written again under a
name already judged is not judged again.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textile_defects.data.frames import TRUNCATED, Frame, FrameProblem
from textile_defects.errors import ConfigError
from textile_defects.predict.cli import min_frame_size
from textile_defects.predict.frames import judge_all, read_ahead
from textile_defects.predict.judges import FramePrediction, Judge
from textile_defects.predict.rows import csv_lines, header, row
from textile_defects.predict.sources import display_path, is_candidate
from textile_defects.utils.params import available_cores

log = logging.getLogger("textile_defects.predict")

RETRIED = (TRUNCATED, "empty_file")
"""Problems a file still being written shows: retried until --retry-for runs out."""
BACKLOG_REPORT_S = 5.0
"""Seconds between two reports of a backlog."""


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    stable_since: float
    first_seen: float
    retry_after: float = 0.0


@dataclass
class WatchStats:
    """What a watch run did: rows written, and each judged frame's latency from landing to its row (s)."""

    rows: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentiles(self) -> tuple[float, float] | None:
        """(p50, p95) latency in seconds, None before any frame."""
        if not self.latencies:
            return None
        p50, p95 = np.percentile(self.latencies, [50, 95])
        return float(p50), float(p95)


def _ledger(out: Path, columns: list[str]) -> set[str]:
    """The paths the CSV already holds a row for (the header written first when the file is new)."""
    if not out.is_file() or out.stat().st_size == 0:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as handle:
            handle.write(csv_lines([columns]))
        return set()
    text = out.read_text(encoding="utf-8")
    if not text.endswith("\n"):  # a row cut off by a crash: drop it, its frame is judged again
        keep = text[: text.rfind("\n") + 1]
        log.warning("%s ended in a partial row (%r): dropped; that frame is judged again", out, text[len(keep):][:80])
        with out.open("w", encoding="utf-8", newline="") as handle:
            handle.write(keep)
        text = keep
    rows = list(csv.reader(text.splitlines()))
    if not rows or rows[0] != columns:
        raise ConfigError(
            f"{out} holds rows of other columns ({(rows or [[]])[0][:6]}...): it was written for other models; "
            "pass another --out, or move that file away."
        )
    return {cells[0] for cells in rows[1:] if cells}


class Watcher:
    """Polls one folder; :meth:`ready` lists the new files that have settled, oldest first."""

    def __init__(self, folder: Path, done: set[str], *, settle_s: float, retry_s: float) -> None:
        self.folder = folder
        self.done = done
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.seen: dict[str, _Seen] = {}

    def _scan(self) -> list[os.DirEntry[str]]:
        found, stack = [], [self.folder]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except FileNotFoundError:  # a sub-folder removed between two looks
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file() and is_candidate(Path(entry.path), self.folder):
                    found.append(entry)
        return found

    def ready(self, now: float) -> list[Path]:
        """Files not yet done whose size and mtime held for ``settle_s``, in landing order (mtime, then name)."""
        ready = []
        for entry in self._scan():
            name = display_path(Path(entry.path), self.folder)
            if name in self.done:
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            seen = self.seen.get(name)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                first = seen.first_seen if seen else now
                self.seen[name] = _Seen(stat.st_size, stat.st_mtime_ns, now, first, seen.retry_after if seen else 0.0)
                continue
            if now - seen.stable_since >= self.settle_s and now >= seen.retry_after:
                ready.append((seen.mtime_ns, name, Path(entry.path)))
        return [path for _, _, path in sorted(ready)]

    def should_retry(self, name: str, now: float) -> bool:
        """Whether a file that read as half-written is retried (True) or reported (False, --retry-for ran out)."""
        seen = self.seen[name]
        if now - seen.first_seen < self.retry_s:
            seen.retry_after = now + self.settle_s
            return True
        return False

    def finish(self, name: str) -> None:
        self.done.add(name)
        self.seen.pop(name, None)

    def backlog(self, now: float) -> tuple[int, float]:
        """How many known files wait, and how long the oldest has been seen (s)."""
        waiting = [seen.first_seen for name, seen in self.seen.items() if name not in self.done]
        return len(waiting), (now - min(waiting)) if waiting else 0.0


def watch(args: argparse.Namespace, judge: Judge, rule: str) -> list[FramePrediction]:
    """Run watch mode until --max-frames rows, --idle-exit seconds with nothing to do, or an interrupt."""
    folder: Path = args.source
    if not folder.is_dir():
        raise ConfigError(f"--watch needs a folder; {folder} is not one.")
    info = judge.info
    columns = header(info)
    watcher = Watcher(folder, _ledger(args.out, columns), settle_s=args.settle, retry_s=args.retry_for)
    minimum = min_frame_size(args, info)
    log.info(
        "watching %s (every %.2f s; %d frame(s) already in %s are skipped); frames below %dx%d refused as ingest refuses them",
        folder, args.poll, len(watcher.done), args.out, *minimum,
    )
    on_judged = None
    if args.heatmaps is not None:
        from textile_defects.predict.cli import heatmap_writer

        on_judged = heatmap_writer(args.heatmaps, folder, info)
    stats, predictions = WatchStats(), []
    last_activity, last_report = time.monotonic(), 0.0
    try:
        with args.out.open("a", encoding="utf-8", newline="") as ledger:
            while args.max_frames is None or stats.rows < args.max_frames:
                now = time.monotonic()
                ready = watcher.ready(now)
                if args.max_frames is not None:
                    ready = ready[: args.max_frames - stats.rows]
                if not ready:
                    if args.idle_exit is not None and now - last_activity >= args.idle_exit and not watcher.backlog(now)[0]:
                        log.info("nothing new for %.1f s: stopping", args.idle_exit)
                        break
                    time.sleep(args.poll)
                    continue
                last_activity = now
                for start in range(0, len(ready), args.batch_size):
                    batch = ready[start : start + args.batch_size]
                    written = _judge_batch(batch, args, judge, rule, watcher, ledger, stats, minimum, on_judged)
                    predictions.extend(written)
                    now = time.monotonic()
                    waiting, oldest = watcher.backlog(now)
                    if waiting and now - last_report >= BACKLOG_REPORT_S:
                        log.info("behind: %d frame(s) waiting, the oldest seen %.1f s ago", waiting, oldest)
                        last_report = now
                    if args.max_frames is not None and stats.rows >= args.max_frames:
                        break
    except KeyboardInterrupt:
        log.info("interrupted: stopping")
    percentiles = stats.percentiles()
    latency = f"; latency from landing to row p50 {percentiles[0]:.2f} s, p95 {percentiles[1]:.2f} s" if percentiles else ""
    log.info("watch: %d row(s) appended to %s%s", stats.rows, args.out, latency)
    return predictions


def _judge_batch(batch, args, judge, rule, watcher, ledger, stats, minimum, on_judged) -> list[FramePrediction]:  # type: ignore[no-untyped-def]
    """Read, judge and append the rows of one batch of settled files; files still being written go back to wait."""
    info = judge.info
    now = time.monotonic()
    items: list[Frame | FrameProblem] = []
    for item in read_ahead(batch, info.sizes, minimum, workers=min(len(batch), available_cores()), ahead=len(batch)):
        name = display_path(item.path, args.source)
        if isinstance(item, FrameProblem) and item.kind in RETRIED and watcher.should_retry(name, now):
            log.debug("%s reads as %s: retried", name, item.kind)
            continue
        items.append(item)
    written = []
    for prediction in judge_all(judge, iter(items), batch_size=args.batch_size, on_judged=on_judged):
        name = display_path(prediction.path, args.source)
        ledger.write(csv_lines([row(prediction, name, info, rule)]))
        ledger.flush()
        os.fsync(ledger.fileno())
        watcher.finish(name)
        stats.rows += 1
        if prediction.error is not None:
            log.warning("skipped %s", prediction.error)
        else:
            try:
                stats.latencies.append(max(0.0, time.time() - prediction.path.stat().st_mtime))
            except FileNotFoundError:  # removed right after it was judged
                pass
        written.append(prediction)
    return written
