"""Atomic writes, so an interrupted stage never leaves a half-written output.

Files are written to a temporary sibling and renamed into place (a rename
within one file system is atomic on POSIX). Folders are built under a
temporary sibling and swapped in only when complete. An OS error while
writing (a full disk above all) leaves nothing behind and becomes one
:class:`~textile_defects.errors.OutputError` naming the output and the space
left there (:mod:`textile_defects.utils.write_errors`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from textile_defects.errors import OutputError
from textile_defects.utils.write_errors import is_write_failure, output_error


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_stream(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a binary file that becomes ``path`` only once it is complete and synced.

    Readers see either the old file or the whole new one. Any OS error is an
    :class:`~textile_defects.errors.OutputError` and leaves no temporary file.
    """
    target = Path(path)
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException as exc:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise output_error(exc, target) from exc
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    return atomic_write_stream(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as stable, sorted, indented JSON, atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder under a temporary name and swap it in on success.

    Yields the temporary folder to write into. On an exception (or a kill),
    the temporary folder is removed and any previous ``path`` is untouched,
    so DVC never sees a partial output. An OS error from writing (one only
    writes raise, or one on a file in the folder) becomes an
    :class:`~textile_defects.errors.OutputError` naming ``path``.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise output_error(exc, target) from exc
    try:
        yield staging
        _swap_in(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        # A file written into the folder atomically already became an OutputError naming its temporary path.
        cause = exc.__cause__ if isinstance(exc, OutputError) else exc
        if isinstance(cause, OSError) and is_write_failure(cause, staging):
            raise output_error(cause, target) from cause
        raise


def _swap_in(staging: Path, target: Path) -> None:
    try:
        os.chmod(staging, 0o755)
        if target.exists() or target.is_symlink():
            trash = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, trash)
            os.replace(staging, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        raise output_error(exc, target) from exc
    _fsync_dir(target.parent)
