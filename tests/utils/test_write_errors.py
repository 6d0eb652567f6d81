"""An OS error while writing an output: one message with the output, the free space there and what to do."""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

import pytest

from textile_defects.errors import OutputError
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_bytes
from textile_defects.utils.stage import run_stage
from textile_defects.utils.write_errors import free_space, is_write_failure, output_error

NO_SPACE = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_output_the_space_left_and_the_ways_out(tmp_path: Path) -> None:
    message = str(output_error(NO_SPACE, tmp_path / "data" / "augmented" / "test"))
    assert message.startswith(f"could not write {tmp_path}/data/augmented/test: No space left on device [ENOSPC];")
    assert re.search(r"; the file system there has [0-9.]+ [KMGT]?i?B free of [0-9.]+ [KMGT]?i?B\.", message)
    assert "Nothing partial was kept" in message
    assert "`dvc gc --workspace`" in message and "`dvc cache dir <path>`" in message


def test_a_forbidden_folder_is_not_told_to_free_space(tmp_path: Path) -> None:
    message = str(output_error(OSError(errno.EACCES, "Permission denied", str(tmp_path / "x")), tmp_path / "x"))
    assert "Permission denied" in message and "writable by this user" in message and "dvc gc" not in message


def test_free_space_is_measured_on_the_nearest_existing_folder(tmp_path: Path) -> None:
    assert free_space(tmp_path / "not" / "yet" / "made").endswith(("B", "KiB", "MiB", "GiB", "TiB"))
    assert " free of " in free_space(tmp_path / "not" / "yet" / "made")


def test_only_errors_writes_raise_or_errors_on_the_outputs_count_as_write_failures(tmp_path: Path) -> None:
    staging = tmp_path / ".out.tmp"
    assert is_write_failure(NO_SPACE)
    assert is_write_failure(OSError(errno.EROFS, "Read-only file system"))
    assert is_write_failure(OSError(errno.EACCES, "Permission denied", str(staging / "a.png")), staging)
    assert not is_write_failure(FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "input.png")), staging)
    assert not is_write_failure(ValueError("not an OS error"))


def test_a_full_disk_inside_an_output_folder_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_output_dir(out) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(OutputError, match=f"could not write {out}: No space left"):
        with atomic_output_dir(out) as staging:
            (staging / "a.txt").write_text("half")
            atomic_write_bytes(staging / "report.json", b"{}")  # an atomic file inside the folder...
            raise NO_SPACE
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_atomic_file_inside_an_output_folder_is_reported_by_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int) -> None:
        raise NO_SPACE

    out = tmp_path / "out"
    with pytest.raises(OutputError) as raised:
        with atomic_output_dir(out) as staging:
            monkeypatch.setattr(os, "fsync", full_disk)
            atomic_write_bytes(staging / "report.json", b"{}")
    assert str(raised.value).startswith(f"could not write {out}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_read_input_that_is_missing_stays_what_it_is(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        with atomic_output_dir(tmp_path / "out"):
            (tmp_path / "no-such-input.png").read_bytes()


def test_a_real_full_disk_met_outside_the_atomic_writers_exits_2_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full (a device that is always full) is Linux's")
    monkeypatch.chdir(tmp_path)

    def stage() -> None:
        with open("/dev/full", "wb") as device:  # the kernel's own ENOSPC, from a write() that names no file
            device.write(b"x" * 10)

    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exited:
        run_stage(stage)
    assert exited.value.code == 2
    assert f"could not write a file (the OS names none) from {tmp_path}: No space left on device [ENOSPC]" in caplog.text
    assert re.search(r"has [0-9.]+ [KMGT]?i?B free of", caplog.text) and "dvc gc" in caplog.text
