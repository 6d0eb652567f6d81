"""Write a pull request's metrics report as Markdown: what changed, and whether it is more than noise.

    python scripts/pr_report.py                         # against main, to stdout
    python scripts/pr_report.py --base origin/main --out pr_report.md
    python scripts/pr_report.py --targets metrics/crossval.json

Three sections:

1. ``dvc metrics diff --md <base>``: every committed figure that moved (run
   here as a subprocess; if DVC fails, the script stops with its message).
2. The cross-validation table of the workspace's ``metrics/crossval.json``:
   each model's seed mean with its interval and seed spread, marked within
   noise of the best model when the intervals overlap.
3. The change of each model's headline CV figures against the base's
   ``metrics/crossval.json`` (read with ``git show``), each called
   ``within noise`` when the two intervals overlap, ``higher``/``lower`` otherwise.

Single-split figures (``metrics/<model>.json``) appear only in section 1: their
photos chose the epoch, so they are selection-biased; quote the CV figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textile_defects.crossval.compare import TABLE_FIGURES, compare, comparison_table
from textile_defects.stats.proportions import format_figure

log = logging.getLogger("pr_report")

CROSSVAL_FILE = "metrics/crossval.json"


class ReportError(RuntimeError):
    """A tool this report needs failed; the message says which and what to do."""


def metrics_diff(base: str, targets: Sequence[str]) -> str:
    """``dvc metrics diff --md <base>`` run here; a failure is a :class:`ReportError` with DVC's message."""
    command = [sys.executable, "-m", "dvc", "metrics", "diff", "--md", base, *(["--targets", *targets] if targets else [])]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReportError(
            f"`dvc {' '.join(command[3:])}` failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}\n"
            "Run this script at the root of the DVC repository, with the project's environment "
            "(.venv/bin/python), and a --base that git knows (git fetch it first)."
        )
    return result.stdout


def base_crossval(base: str) -> dict[str, Any] | None:
    """The base revision's ``metrics/crossval.json``, or None when it has none."""
    result = subprocess.run(["git", "show", f"{base}:{CROSSVAL_FILE}"], capture_output=True, text=True)
    if result.returncode != 0:
        log.info("%s has no %s (%s)", base, CROSSVAL_FILE, result.stderr.strip())
        return None
    return json.loads(result.stdout)


def change_table(current: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    """Markdown: per model and headline figure, base and this branch with intervals, and the verdict."""
    lines = ["| model | figure | base | this branch | change |", "|---|---|---:|---:|---|"]
    for model in [*current, *(m for m in base if m not in current)]:
        new, old = current.get(model), base.get(model)
        for figure, label in TABLE_FIGURES:
            new_entry = (new or {}).get(figure)
            old_entry = (old or {}).get(figure)
            if new_entry and old_entry and new_entry.get("mean") is not None and old_entry.get("mean") is not None:
                change = f"{new_entry['mean'] - old_entry['mean']:+.3f}, {compare(new, old, figure)}"
            else:
                change = "new" if new_entry else "removed"
            lines.append(f"| {model} | {label} | {format_figure(old_entry)} | {format_figure(new_entry)} | {change} |")
    return "\n".join(lines) + "\n"


def render_report(diff_md: str, current: Mapping[str, Any] | None, base: Mapping[str, Any] | None, base_name: str) -> str:
    """The whole report from its parts (``current``/``base``: crossval.json contents, None when absent)."""
    parts = [f"## Metrics changed against `{base_name}` (`dvc metrics diff`)", "", diff_md.strip() or "No metric changed.", ""]
    parts += ["## Cross-validation (this branch)", ""]
    if current is None:
        parts += [f"No `{CROSSVAL_FILE}` in the workspace: run `dvc repro crossval/dvc.yaml` for figures worth comparing.", ""]
    else:
        parts += [
            "Seed mean [interval] over every original photo, each scored by models that never saw it; "
            "`within noise` = the interval overlaps the reference model's.",
            "",
            comparison_table(current),
        ]
        parts += [f"## Cross-validation against `{base_name}`", ""]
        if base is None:
            parts += [f"`{base_name}` has no `{CROSSVAL_FILE}`: nothing to compare with.", ""]
        else:
            parts += [
                "A change is `within noise` when the two intervals overlap: the data cannot tell the runs apart.",
                "",
                change_table(current, base),
            ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: %(default)s)")
    parser.add_argument("--targets", nargs="+", default=[], help="metrics files for dvc metrics diff (default: all)")
    parser.add_argument("--crossval", type=Path, default=Path(CROSSVAL_FILE), help="workspace CV metrics (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: stdout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        diff_md = metrics_diff(args.base, args.targets)
        current = json.loads(args.crossval.read_text(encoding="utf-8")) if args.crossval.is_file() else None
        report = render_report(diff_md, current, base_crossval(args.base) if current is not None else None, args.base)
    except (ReportError, json.JSONDecodeError) as exc:
        log.error("%s", exc)
        return 2
    if args.out is None:
        sys.stdout.write(report)
    else:
        args.out.write_text(report, encoding="utf-8")
        log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
