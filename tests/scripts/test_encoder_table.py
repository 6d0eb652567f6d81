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

from tests.helpers.repo import FIXTURES, REPO_ROOT

FIXTURE = FIXTURES / "dvc_exp_show.json"

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


# --- cross-validated figures (metrics/crossval.json) ------------------------------------

CV_CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")


def _crossval_json(accuracy: float, seed: int) -> dict[str, Any]:
    """A real crossval_report on synthetic out-of-fold predictions of 62 originals, 2 seeds."""
    import numpy as np

    from textile_defects.crossval.figures import crossval_report
    from textile_defects.crossval.scores import OutOfFold

    labels = np.array([0] * 30 + [1] * 8 + [2] * 8 + [3] * 8 + [4] * 8)
    ids = tuple(f"o{i:02d}" for i in range(len(labels)))
    runs = []
    for run_seed in (0, 1):
        rng = np.random.default_rng([seed, run_seed])
        predicted = np.where(rng.random(len(labels)) < accuracy, labels, rng.integers(0, 5, len(labels)))
        runs.append(OutOfFold("post_baseline", run_seed, ids, np.arange(len(labels)) % 5, labels, predicted, np.eye(5)[predicted]))
    return json.loads(json.dumps(crossval_report({"post_baseline": runs}, CV_CLASSES, "non_defect", 0.95, 200, 0)))


@pytest.fixture
def exp_show_cv(exp_show: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The captured output with crossval.json added to the main commit, the workspace and two experiments."""
    edited = copy.deepcopy(exp_show)
    figures = {"efficientnet_lite0": _crossval_json(0.75, 1), "resnet18": _crossval_json(0.97, 2), "squeezenet1": _crossval_json(0.3, 3)}
    revisions = [edited[0]["data"], edited[1]["data"]] + [e["revs"][0]["data"] for e in edited[1]["experiments"]]
    for data in revisions:
        encoder = data["params"]["params.yaml"]["data"]["encoder"]
        if encoder in figures:
            data["metrics"]["metrics/crossval.json"] = {"data": figures[encoder]}
    return edited


def test_crossval_table_marks_noise_against_the_best_encoder(exp_show_cv: list[dict[str, Any]]) -> None:
    markdown = encoder_table.render_crossval_table(exp_show_cv)
    header = markdown.splitlines()[2]
    assert header.startswith("| encoder | F1 macro [CI] |") and header.endswith("| vs resnet18 | run |")
    rows = table_rows(markdown)
    assert rows["resnet18"][-2:] == ["reference", "exp-resnet18"]
    assert "F1 macro lower" in rows["squeezenet1"][-2] and "beyond noise" in rows["squeezenet1"][-2]
    assert rows["efficientnet_lite0"][-1] == "main"
    # The F1 macro cell shows the seed mean and its interval, from the run's own crossval.json.
    block = exp_show_cv[1]["data"]["metrics"]["metrics/crossval.json"]["data"]["post_baseline"]["f1_macro"]
    assert rows["efficientnet_lite0"][0] == f"{block['mean']:.3f} [{block['ci_low']:.3f}, {block['ci_high']:.3f}]"
    assert rows["broken_encoder"] == ["—"] * 6 + ["exp-broken (failed)"]
    assert rows["shufflenet_v2"][-1] == "exp-shufflenet (queued)"


def test_crossval_within_noise_against_a_chosen_reference(exp_show_cv: list[dict[str, Any]]) -> None:
    rows = table_rows(encoder_table.render_crossval_table(exp_show_cv, reference="efficientnet_lite0"))
    assert rows["efficientnet_lite0"][-2] == "reference"
    verdicts = {encoder: cells[-2] for encoder, cells in rows.items() if cells[0] != "—"}
    # Every verdict is either within noise or names the figures beyond it; never a bare difference.
    assert all(v == "reference" or v == "within noise" or v.endswith("(beyond noise)") for v in verdicts.values())
    assert "higher" in verdicts["resnet18"] and "lower" in verdicts["squeezenet1"]


def test_cli_picks_crossval_when_present_and_reports_a_bad_reference(
    exp_show_cv: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps(exp_show_cv))
    assert encoder_table.main(["--input", str(saved)]) == 0
    assert "Cross-validated `post_baseline` per encoder" in capsys.readouterr().out
    assert encoder_table.main(["--input", str(saved), "--set", "val"]) == 0
    assert "| resnet18 | 0.7900 |" in capsys.readouterr().out  # the single split on request
    assert encoder_table.main(["--input", str(saved), "--reference", "shufflenet_v2"]) == 2
    assert "--reference shufflenet_v2: no cross-validated post_baseline figures" in caplog.text
    assert encoder_table.main(["--input", str(FIXTURE)]) == 0  # no crossval.json anywhere: the single split
    assert "selection-biased" in capsys.readouterr().out


def test_report_layout_puts_cv_intervals_beside_the_reports_numbers(exp_show: list[dict[str, Any]]) -> None:
    from textile_defects.models.registry import ENCODERS

    block = _crossval_json(0.9, 5)
    both = {"baseline": block["post_baseline"], "post_baseline": block["post_baseline"]}
    shown = copy.deepcopy(exp_show)
    shown[0]["data"]["metrics"]["metrics/crossval.json"] = {"data": both}  # the main commit: efficientnet_lite0
    rows = table_rows(encoder_table.render_report_layout(shown))
    assert set(rows) == set(ENCODERS), "one row per registered encoder, run or not"
    lite0 = rows["efficientnet_lite0"]
    macro = both["post_baseline"]["f1_macro"]
    assert lite0[6].strip().startswith(f"{macro['mean']:.3f} [{macro['ci_low']:.3f}, {macro['ci_high']:.3f}]")
    assert lite0[7].strip() == encoder_table.MISSING, "the report has no efficientnet_lite0 row"
    resnet = rows["resnet18"]
    # resnet18 ran without crossval.json: dashes for the CV, the report's own figures beside them.
    assert resnet[0].strip() == encoder_table.MISSING and resnet[1].strip() == "0.8338" and resnet[7].strip() == "0.8733"
    assert "no metrics" in resnet[-1]
