"""Run a queued sweep of training settings through the cross-validation, then print its table.

    python scripts/cv_sweep.py crossval/sweeps/resolution.yaml              # run the queue, write the table
    python scripts/cv_sweep.py crossval/sweeps/resolution.yaml --jobs 2     # two models at a time, 1 thread each
    python scripts/cv_sweep.py crossval/sweeps/resolution.yaml --only square224_resize
    python scripts/cv_sweep.py crossval/sweeps/resolution.yaml --table-only

Needs the CV's fold plan and augmented folds (`dvc repro crossval/dvc.yaml`,
or `dvc pull` them). Each run's keys go over train_<variant> and
crossval.train_overrides, as cv_train lays them; finished (run, seed) pairs
are skipped, so extending the queue or restarting costs only the new work.
Work lands in data/sweeps/<sweep>/ (git-ignored; outside data/crossval, which cv_report
hashes whole, so a sweep never makes the CV stale); the table in
reports/sweeps/<sweep>.md and .json (see textile_defects.crossval.sweep).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from textile_defects.crossval.sweep import Sweep, run_sweep, sweep_report
from textile_defects.utils.atomic import atomic_write_json, atomic_write_text
from textile_defects.utils.stage import load_params, run_stage

log = logging.getLogger("cv_sweep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", type=Path, help="sweep file (crossval/sweeps/*.yaml)")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--jobs", type=int, default=1, help="fold models trained side by side (default 1)")
    parser.add_argument("--only", nargs="+", help="run only these named runs of the queue")
    parser.add_argument("--table-only", action="store_true", help="write the table of what has finished; train nothing")
    parser.add_argument("--plan", type=Path, default=Path("data/crossval/plan"), help="the CV fold plan folder")
    parser.add_argument("--folds", default="data/crossval/fold_{fold}/augmented", help="augmented fold folders, with {fold}")
    parser.add_argument("--manifest", type=Path, default=Path("data/ingested/manifest.csv"), help="ingest manifest (probe rows)")
    parser.add_argument("--work", type=Path, default=Path("data/sweeps"), help="where runs keep their scores")
    parser.add_argument("--out", type=Path, default=Path("reports/sweeps"), help="where the table goes")
    args = parser.parse_args()
    params = load_params(args.params)
    sweep = Sweep.read(args.sweep)
    work = args.work / sweep.name
    if not args.table_only:
        run_sweep(sweep, params, manifest=args.manifest, plan_dir=args.plan, fold_dir=args.folds, out_dir=work,
                  jobs=args.jobs, only=args.only)  # fmt: skip
    blocks, table = sweep_report(sweep, params, plan_dir=args.plan, out_dir=work)
    atomic_write_text(args.out / f"{sweep.name}.md", table)
    atomic_write_json(args.out / f"{sweep.name}.json", blocks)
    print(table, end="")


if __name__ == "__main__":
    run_stage(main)
