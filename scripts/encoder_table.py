"""Render the encoder comparison table as Markdown from ``dvc exp show --json``.

    python scripts/encoder_table.py                      # runs `dvc exp show --json` itself
    dvc exp show --json -A | python scripts/encoder_table.py --input -
    python scripts/encoder_table.py --input exps.json --model baseline --reference resnet18
    python scripts/encoder_table.py --set val_originals  # the single split (selection-biased)

One row per encoder (the ``encoder`` param), from the newest successful run
(commit or experiment) with that encoder. A failed experiment is never used:
DVC reports it with its parent's metrics, which are not its own. Encoders
with no usable run, or runs missing a figure, show dashes, and the ``run``
column says why.

``--layout report``: the report's own table (seed-report.md), one row per
registered encoder, baseline and post-baseline F1 weighted and F1 macro: the
CV figures with their intervals beside the report's single-split numbers
(``experiments/report_table.yaml``).

``--set crossval`` (the default when any run has ``metrics/crossval.json``):
one model's cross-validated figures with their intervals and seed spread,
each encoder marked ``within noise`` of the reference encoder (default: the
best F1 macro) when their intervals overlap. ``--set val_originals|val|test``:
F1 weighted and F1 macro of baseline and post-baseline on one set of the
single split, as in the report; those photos chose the epoch, so their
figures are selection-biased and carry no interval.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from textile_defects.crossval.compare import comparison_table
from textile_defects.models.registry import ENCODERS
from textile_defects.stats.proportions import format_figure

log = logging.getLogger("encoder_table")

REPORT_TABLE = Path(__file__).resolve().parents[1] / "experiments" / "report_table.yaml"
LAYOUTS = ("encoders", "report")

MODELS = ("baseline", "post_baseline")
FIGURES = (("f1_weighted", "F1 weighted"), ("f1_macro", "F1 macro"))
SETS = ("val_originals", "val", "test")
CROSSVAL = "crossval"
CROSSVAL_FILE = "metrics/crossval.json"
CV_MODELS = ("baseline", "post_baseline", "probe")
MISSING = "—"


@dataclasses.dataclass(frozen=True)
class Run:
    """One commit, workspace or experiment from ``dvc exp show``.

    ``status`` is ``success``, ``failed``, ``queued`` or ``running``;
    ``metrics`` maps a metrics file to its parsed content, or None when DVC
    could not read it. ``timestamp`` is ISO 8601, None for the workspace.
    """

    name: str
    status: str
    timestamp: str | None
    params: Mapping[str, Any]
    metrics: Mapping[str, Mapping[str, Any] | None]

    @property
    def encoder(self) -> str | None:
        value = self.params.get("encoder")
        return None if value is None else str(value)


def _run_from(revision: Mapping[str, Any], name: str, executor_state: str | None) -> Run:
    data = revision.get("data") or {}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    metrics = {path: content.get("data") for path, content in (data.get("metrics") or {}).items()}
    if revision.get("error") or executor_state == "failed":
        status = "failed"
    elif executor_state in ("queued", "running"):
        status = executor_state
    else:
        status = "success"
    return Run(name=name, status=status, timestamp=data.get("timestamp"), params=params, metrics=metrics)


def iter_runs(exp_show: Sequence[Mapping[str, Any]]) -> Iterator[Run]:
    """Every workspace, commit and experiment in ``dvc exp show --json`` output (DVC 3.x shape)."""
    for commit in exp_show:
        rev = str(commit.get("rev", "?"))
        yield _run_from(commit, commit.get("name") or (rev if rev == "workspace" else rev[:7]), None)
        for experiment in commit.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state")
            # revs[0] is the experiment's final state (older DVC listed checkpoints after it).
            for revision in (experiment.get("revs") or [])[:1]:
                yield _run_from(revision, experiment.get("name") or revision.get("name") or "?", state)


def figure(run: Run, model: str, set_name: str, key: str) -> float | None:
    """``metrics/<model>.json`` -> ``<set_name>.<key>``, or None when the run lacks it."""
    content = run.metrics.get(f"metrics/{model}.json") or {}
    value = (content.get(set_name) or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def crossval_block(run: Run, model: str) -> Mapping[str, Any] | None:
    """``metrics/crossval.json`` -> ``<model>`` of a run, or None when the run lacks it."""
    block = (run.metrics.get(CROSSVAL_FILE) or {}).get(model)
    return block if isinstance(block, Mapping) else None


def _has_figures(run: Run, set_name: str, model: str | None = None) -> bool:
    if set_name == CROSSVAL:
        return crossval_block(run, model or "post_baseline") is not None
    return any(figure(run, model, set_name, key) is not None for model in MODELS for key, _ in FIGURES)


def pick_runs(runs: Sequence[Run], set_name: str, model: str | None = None) -> dict[str, tuple[Run, bool]]:
    """Per encoder, the run to show and whether its figures are usable.

    Usable: a successful run with at least one figure for ``set_name`` (for
    ``crossval``: a block for ``model`` in its crossval.json); the
    newest wins, and the workspace (no timestamp) only when no commit or
    experiment has that encoder, since it duplicates whichever one was run last.
    Otherwise the newest run of the encoder is kept to say why there is no figure.
    """
    def newest(run: Run) -> str:
        return run.timestamp or ""

    chosen: dict[str, tuple[Run, bool]] = {}
    for run in sorted(runs, key=newest):
        if run.encoder is None:
            continue
        usable = run.status == "success" and _has_figures(run, set_name, model)
        previous = chosen.get(run.encoder)
        if previous is None or usable or not previous[1]:
            chosen[run.encoder] = (run, usable)
    return chosen


def _describe(run: Run, usable: bool) -> str:
    if usable:
        return run.name
    reason = run.status if run.status != "success" else "no metrics"
    return f"{run.name} ({reason})"


def render_table(exp_show: Sequence[Mapping[str, Any]], set_name: str = "val_originals") -> str:
    """The Markdown comparison table, one row per encoder, sorted by name."""
    header = ["encoder"] + [f"{label} ({model})" for key, label in FIGURES for model in MODELS] + ["run"]
    lines = [
        f"F1 on `{set_name}`, baseline versus post-baseline, per encoder. Single split: these photos chose "
        "the epoch, so the figures are selection-biased and have no interval; compare encoders with `--set crossval`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + "|",
    ]
    for encoder, (run, usable) in sorted(pick_runs(list(iter_runs(exp_show)), set_name).items()):
        cells = [encoder]
        for key, _ in FIGURES:
            for model in MODELS:
                value = figure(run, model, set_name, key) if usable else None
                cells.append(MISSING if value is None else f"{value:.4f}")
        cells.append(_describe(run, usable))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def has_crossval(exp_show: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any successful run has cross-validated figures."""
    return any(run.status == "success" and run.metrics.get(CROSSVAL_FILE) for run in iter_runs(exp_show))


def render_crossval_table(
    exp_show: Sequence[Mapping[str, Any]], model: str = "post_baseline", reference: str | None = None
) -> str:
    """One model's cross-validated figures per encoder, with intervals, each marked against the reference."""
    chosen = sorted(pick_runs(list(iter_runs(exp_show)), CROSSVAL, model).items())
    blocks = {encoder: crossval_block(run, model) if usable else None for encoder, (run, usable) in chosen}
    notes = {encoder: _describe(run, usable) for encoder, (run, usable) in chosen}
    if reference is not None and not blocks.get(reference):
        raise RuntimeError(f"--reference {reference}: no cross-validated {model} figures for that encoder; "
                           f"encoders with figures: {sorted(e for e, b in blocks.items() if b)}")
    return (
        f"Cross-validated `{model}` per encoder ({CROSSVAL_FILE}): seed mean [interval]; "
        "'within noise' = intervals overlap with the reference encoder's.\n\n"
        + comparison_table(blocks, label="encoder", reference=reference, notes=notes)
    )


def render_report_layout(exp_show: Sequence[Mapping[str, Any]], report_table: Path = REPORT_TABLE) -> str:
    """The report's encoder table: per encoder, both variants' F1 weighted and macro, CV [CI] beside the report's."""
    reported = yaml.safe_load(report_table.read_text(encoding="utf-8"))
    encoders = [*reported["encoders"], *sorted(set(ENCODERS) - set(reported["encoders"]))]
    every_run = list(iter_runs(exp_show))
    runs = {model: pick_runs(every_run, CROSSVAL, model) for model in MODELS}
    header = ["encoder"]
    for key, label in FIGURES:
        for model in MODELS:
            header += [f"{label} {model} (CV [CI])", "(report)"]
    header.append("run")
    lines = [
        f"Cross-validated figures ({CROSSVAL_FILE}: seed mean [interval over photos]) beside the report's "
        f"single-split numbers ({reported['source']}; no interval, and those photos chose the epoch).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + "|",
    ]
    for encoder in encoders:
        cells = [encoder]
        notes: list[str] = []
        for key, _ in FIGURES:
            for model in MODELS:
                run, usable = runs[model].get(encoder, (None, False))
                block = crossval_block(run, model) if run is not None and usable else None
                cells.append(format_figure(block.get(key)) if block else MISSING)
                value = ((reported["encoders"].get(encoder) or {}).get(key) or {}).get(model)
                cells.append(MISSING if value is None else f"{value:.4f}")
                if run is not None:
                    notes.append(_describe(run, usable))
        cells.append(", ".join(dict.fromkeys(notes)) or "not run")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def load_exp_show(source: str | None, all_commits: bool) -> list[dict[str, Any]]:
    """Parsed ``dvc exp show --json``: from a file, from stdin (``-``), or by running DVC here."""
    if source == "-":
        text = sys.stdin.read()
    elif source is not None:
        text = Path(source).read_text(encoding="utf-8")
    else:
        command = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["-A"] if all_commits else [])]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"`{' '.join(command[2:])}` failed (exit {result.returncode}): {result.stderr.strip()}")
        text = result.stdout
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"input is not `dvc exp show --json` output: {exc}") from exc
    if not isinstance(parsed, list):
        raise RuntimeError("input is not `dvc exp show --json` output: expected a JSON list of commits")
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", help="saved `dvc exp show --json` output, or - for stdin (default: run it)")
    parser.add_argument("--set", choices=(CROSSVAL, *SETS),
                        help="crossval (default when any run has metrics/crossval.json), or a single-split set (default otherwise: val_originals)")
    parser.add_argument("--model", default="post_baseline", choices=CV_MODELS, help="with crossval: the model compared (default: %(default)s)")
    parser.add_argument("--reference", help="with crossval: the encoder the others are compared with (default: best F1 macro)")
    parser.add_argument("-A", "--all-commits", action="store_true", help="when running DVC: experiments of all commits")
    parser.add_argument("--layout", choices=LAYOUTS, default="encoders",
                        help="report: the report's table, CV figures beside its single-split numbers (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        exp_show = load_exp_show(args.input, args.all_commits)
    except (OSError, RuntimeError) as exc:
        log.error("%s", exc)
        return 2
    if args.layout == "report":
        sys.stdout.write(render_report_layout(exp_show))
        return 0
    set_name = args.set or (CROSSVAL if has_crossval(exp_show) else "val_originals")
    try:
        table = render_crossval_table(exp_show, args.model, args.reference) if set_name == CROSSVAL else render_table(exp_show, set_name)
    except RuntimeError as exc:
        log.error("%s", exc)
        return 2
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
