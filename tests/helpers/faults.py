"""Run a stage script with a fault injected where the test chooses: a SIGKILL mid-epoch, or a full disk.

    python tests/helpers/faults.py --kill-at "epoch 3 train" --after-batches 1 -- stages/train.py ARGS...
    python tests/helpers/faults.py --enospc "*/images/hole/*" --after-bytes 100 -- stages/augment.py ARGS...

``--kill-at`` kills this process with SIGKILL (no handler runs, as with an OOM kill
or a preempted node) after ``--after-batches`` batches of the first progress loop
whose description is the given one (``run_pass``'s "epoch N train"). ``--enospc``
makes every file opened for writing whose path matches the glob fail with
``OSError(ENOSPC)`` once ``--after-bytes`` bytes were written to it, as a full
disk does; worker processes forked by the stage inherit the fault. The stage
then runs as ``python SCRIPT ARGS...`` would run it.
"""

from __future__ import annotations

import argparse
import builtins
import errno
import fnmatch
import io
import os
import runpy
import signal
import sys
from collections.abc import Iterator
from typing import Any


def kill_during(description: str, after_batches: int) -> None:
    """SIGKILL this process inside the progress loop named ``description``."""
    from textile_defects.training import loop

    plain = loop.progress

    def progress(iterable: Any = None, **kwargs: Any) -> Iterator[Any]:
        bar = plain(iterable, **kwargs)
        if kwargs.get("desc") != description:
            return bar
        return _killing(bar, after_batches)

    loop.progress = progress


def _killing(batches: Any, after_batches: int) -> Iterator[Any]:
    for index, batch in enumerate(batches):
        if index == after_batches:
            os.kill(os.getpid(), signal.SIGKILL)
        yield batch


class _FillingFile(io.RawIOBase):
    """A writable file that takes ``budget`` bytes, then fails every write as a full disk does."""

    def __init__(self, raw: Any, budget: int) -> None:
        self.raw = raw
        self.budget = budget

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if size > self.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.budget -= size
        return self.raw.write(data)

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()
        super().close()


def fill_disk_for(pattern: str, after_bytes: int) -> None:
    """Files opened for writing whose path matches ``pattern`` fail with ENOSPC after ``after_bytes``."""
    plain_open = io.open

    def open_(file: Any, mode: str = "r", buffering: int = -1, *args: Any, **kwargs: Any) -> Any:
        writing = any(flag in mode for flag in "wax+")
        path = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else os.fspath(file)
        if not writing or not fnmatch.fnmatch(os.path.abspath(path), pattern):
            return plain_open(file, mode, buffering, *args, **kwargs)
        raw = plain_open(file, mode.replace("t", "") + ("b" if "b" not in mode else ""), buffering=0)
        filling = _FillingFile(raw, after_bytes)
        buffered = io.BufferedWriter(filling)  # type: ignore[arg-type]
        if "b" in mode:
            return buffered
        return io.TextIOWrapper(buffered, *args, **kwargs)

    builtins.open = open_
    io.open = open_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kill-at", help="progress description to SIGKILL in, e.g. 'epoch 3 train'")
    parser.add_argument("--after-batches", type=int, default=1)
    parser.add_argument("--enospc", help="glob of absolute paths whose writes fail with ENOSPC")
    parser.add_argument("--after-bytes", type=int, default=0)
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.kill_at:
        kill_during(options.kill_at, options.after_batches)
    if options.enospc:
        fill_disk_for(options.enospc, options.after_bytes)
    sys.argv = [options.script, *[arg for arg in options.args if arg != "--"]]
    sys.path.insert(0, os.path.dirname(os.path.abspath(options.script)))
    runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main()
