"""An OS error while writing an output, turned into one message a person can act on.

A full disk is the common case on a long run: the message names the output,
the space left on the file system holding it, and the ways out (free space,
``dvc gc``, move DVC's cache with ``dvc cache dir``). Outputs are built under
a temporary name and swapped in when complete (:mod:`textile_defects.utils.atomic`),
so the message can also say that nothing partial was kept.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from textile_defects.errors import OutputError

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""A full file system, a full quota, a file larger than the system allows."""
WRITE_ONLY_ERRNOS = NO_SPACE_ERRNOS | {errno.EROFS}
"""Errors that only a write raises: one of them from a stage's work is a failed output write."""

_NO_SPACE_ADVICE = (
    "To go on, make room there and re-run the stage: delete what you do not need on that disk; "
    "`dvc gc --workspace` removes cached data the current workspace does not use "
    "(add `--all-commits` to keep what any commit uses); or move DVC's cache to a larger disk "
    "with `dvc cache dir <path>` (`dvc cache dir` alone prints where it is now)."
)


def _readable_size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def free_space(path: str | os.PathLike[str]) -> str:
    """The free and total space of the file system holding ``path`` (or its nearest existing folder)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return f"free space unknown ({exc.strerror})"
    return f"{_readable_size(usage.free)} free of {_readable_size(usage.total)}"


def is_write_failure(exc: BaseException, staging: str | os.PathLike[str] | None = None) -> bool:
    """Whether ``exc`` is an OS error from writing: one only writes raise, or one on a file under ``staging``."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno in WRITE_ONLY_ERRNOS:
        return True
    if staging is None or not exc.filename or not isinstance(exc.filename, (str, os.PathLike)):
        return False
    return Path(os.fspath(exc.filename)).absolute().is_relative_to(Path(staging).absolute())


def output_error(
    exc: OSError, path: str | os.PathLike[str], *, partial_removed: bool = True, described: str | None = None
) -> OutputError:
    """One message for an OS error while writing output ``path``: what failed, the space there, what to do.

    ``described`` replaces the path in the message (the free space is still ``path``'s).
    """
    reason = exc.strerror or str(exc)
    code = f" [{errno.errorcode.get(exc.errno, exc.errno)}]" if exc.errno else ""
    lines = [f"could not write {described or path}: {reason}{code}; the file system there has {free_space(path)}."]
    if partial_removed:
        lines.append("Nothing partial was kept: outputs are built under a temporary name and swapped in only when complete.")
    if exc.errno in NO_SPACE_ERRNOS:
        lines.append(_NO_SPACE_ADVICE)
    elif exc.errno == errno.EROFS:
        lines.append("The file system is mounted read-only: write the outputs on a writable one, then re-run the stage.")
    else:
        lines.append("Check that the folder exists and is writable by this user, then re-run the stage.")
    return OutputError("\n".join(lines))
