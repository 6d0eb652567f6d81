"""scripts/encoder_table.py on real `dvc exp show --json` output (DVC 3.67).

tests/fixtures/dvc_exp_show.json was captured from a scratch repository whose
stand-in evaluate stage writes metrics/baseline.json and post_baseline.json:
the main commit (efficientnet_lite0), two finished experiments (resnet18;
squeezenet1, whose post_baseline metrics lack ``val_originals``), a queued one
(shufflenet_v2) and a failed one, which DVC reports with its parent's metrics.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "dvc_exp_show.json"

_spec = importlib.util.spec_from_file_location("encoder_table", REPO_ROOT / "scripts" / "encoder_table.py")
assert _spec is not None and _spec.loader is not None
encoder_table = importlib.util.module_from_spec(_spec)
sys.modules["encoder_table"] = encoder_table  # dataclasses look their module up there
_spec.loader.exec_module(encoder_table)


@pytest.fixture
def exp_show() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text())


def table_rows(markdown: str) -> dict[str, list[str]]:
    """``{encoder: [cells after the encoder]}`` from the rendered table."""
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("| ")]
    header, *body = ([cell.strip() for cell in row] for row in rows)
    assert header[0] == "encoder"
    return {cells[0]: cells[1:] for cells in body}


def test_table_from_captured_exp_show(exp_show: list[dict[str, Any]]) -> None:
    markdown = encoder_table.render_table(exp_show)
    assert "| encoder | F1 weighted (baseline) | F1 weighted (post_baseline) | F1 macro (baseline) | F1 macro (post_baseline) | run |" in markdown
    rows = table_rows(markdown)
    assert rows["resnet18"] == ["0.8400", "0.8800", "0.8300", "0.8700", "exp-resnet18"]
    # The workspace duplicates the main commit; the commit, which can be checked out, is named.
    assert rows["efficientnet_lite0"] == ["0.6200", "0.6600", "0.6100", "0.6500", "main"]
    # A run missing one model's figures keeps the ones it has.
    assert rows["squeezenet1"] == ["0.7400", "—", "0.7300", "—", "exp-squeezenet1"]
    assert rows["shufflenet_v2"] == ["—", "—", "—", "—", "exp-shufflenet (queued)"]
    # DVC lists the failed run with its parent's metrics; they must not appear as its own.
    assert rows["broken_encoder"] == ["—", "—", "—", "—", "exp-broken (failed)"]
    assert list(rows) == sorted(rows)


def test_set_flag_reads_the_other_set(exp_show: list[dict[str, Any]]) -> None:
    rows = table_rows(encoder_table.render_table(exp_show, "val"))
    assert rows["resnet18"][:4] == ["0.7900", "0.8300", "0.7800", "0.8200"]
    assert rows["squeezenet1"][:4] == ["0.6900", "0.7300", "0.6800", "0.7200"]
    assert "`val`" in encoder_table.render_table(exp_show, "val")


def test_workspace_counts_when_it_is_the_only_run_of_an_encoder(exp_show: list[dict[str, Any]]) -> None:
    edited = copy.deepcopy(exp_show)
    workspace = edited[0]
    assert workspace["rev"] == "workspace"
    workspace["data"]["params"]["params.yaml"]["data"]["encoder"] = "mobilenet_v3"
    workspace["data"]["metrics"]["metrics/post_baseline.json"] = {
        "error": {"type": "FileNotFoundError", "msg": "No such file or directory: 'metrics/post_baseline.json'"}
    }
    rows = table_rows(encoder_table.render_table(edited))
    assert rows["mobilenet_v3"] == ["0.6200", "—", "0.6100", "—", "workspace"]


def test_a_run_without_any_metrics_says_so(exp_show: list[dict[str, Any]]) -> None:
    edited = copy.deepcopy(exp_show)
    resnet = next(e for e in edited[1]["experiments"] if e["name"] == "exp-resnet18")
    resnet["revs"][0]["data"]["metrics"] = {}
    assert table_rows(encoder_table.render_table(edited))["resnet18"][-1] == "exp-resnet18 (no metrics)"


def test_cli_reads_a_file_or_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert encoder_table.main(["--input", str(FIXTURE), "--set", "val"]) == 0
    from_file = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO(FIXTURE.read_text()))
    assert encoder_table.main(["--input", "-", "--set", "val"]) == 0
    assert capsys.readouterr().out == from_file
    assert "| resnet18 | 0.7900 |" in from_file


def test_cli_fails_clearly_on_bad_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert encoder_table.main(["--input", str(bad)]) == 2
    assert "not `dvc exp show --json` output" in caplog.text
    assert encoder_table.main(["--input", str(tmp_path / "absent.json")]) == 2


def test_cli_runs_dvc_itself_and_reports_its_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)  # not a DVC repository
    assert encoder_table.main([]) == 2
    assert "dvc exp show --json` failed" in caplog.text
