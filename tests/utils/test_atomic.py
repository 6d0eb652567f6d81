"""Atomic outputs: a failed or killed writer leaves the previous output, or none, never half of one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json


def test_atomic_output_dir_keeps_the_previous_output_when_the_writer_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_output_dir(out) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folder is left behind"


def test_a_killed_writer_leaves_no_output_for_dvc_to_record(tmp_path: Path) -> None:
    script = (
        "import os, signal\n"
        "from textile_defects.utils.atomic import atomic_output_dir\n"
        f"with atomic_output_dir({str(tmp_path / 'out')!r}) as d:\n"
        "    (d / 'part.bin').write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -9
    assert not (tmp_path / "out").exists()


def test_atomic_json_is_stable_and_sorted(tmp_path: Path) -> None:
    target = atomic_write_json(tmp_path / "m.json", {"b": 1, "a": {"d": 2.5, "c": [1, 2]}})
    assert target.read_text() == '{\n  "a": {\n    "c": [\n      1,\n      2\n    ],\n    "d": 2.5\n  },\n  "b": 1\n}\n'
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")})
    assert not (tmp_path / "nan.json").exists()
