"""Reading sweep files: every problem named with its run and key, at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from textile_defects.crossval.sweep import Sweep
from textile_defects.errors import ConfigError


def _write(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(payload, sort_keys=False))
    return path


def test_a_sweep_file_reads_into_runs(tmp_path: Path) -> None:
    sweep = Sweep.read(_write(tmp_path, {"variant": "baseline", "seeds": [7, 8], "runs": [
        {"name": "wide", "note": "16:9", "overrides": {"input_size": [320, 180]}},
        {"name": "probe_sq", "note": "probe", "probe_input_size": 224},
        {"name": "probe_wide", "note": "probe", "probe_input_size": [320, 180]},
    ]}))  # fmt: skip
    assert (sweep.name, sweep.variant, sweep.seeds) == ("sweep", "baseline", (7, 8))
    assert [run.name for run in sweep.runs] == ["wide", "probe_sq", "probe_wide"]
    assert sweep.runs[0].overrides == {"input_size": [320, 180]} and not sweep.runs[0].is_probe
    assert sweep.runs[1].probe_input_size == (224, 224) and sweep.runs[2].probe_input_size == (320, 180)


def test_every_problem_of_a_sweep_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, {"variant": "nope", "seeds": [], "runs": [
        {"name": "a", "note": "x", "overrides": {"seed": 3}},
        {"name": "a", "note": "y", "probe_input_size": [10, 20]},
        {"name": "c", "overrides": {}},
    ]})  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        Sweep.read(path)
    text = str(raised.value)
    for expected in ("sweep.variant", "sweep.seeds", "runs[0].overrides", "runs[1].probe_input_size", "runs[2].note", "distinct names"):
        assert expected in text, expected


def test_a_missing_sweep_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sweep file not found"):
        Sweep.read(tmp_path / "absent.yaml")
