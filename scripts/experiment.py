"""Run a recipe (experiments/*.yaml) as one DVC experiment.

    python scripts/experiment.py experiments/report.yaml                      # dvc exp run -n report-<date> -S ...
    python scripts/experiment.py experiments/report.yaml -S encoder=resnet18  # any further dvc exp run options
    python scripts/experiment.py experiments/report.yaml --queue              # queue it (then: dvc queue start)
    python scripts/experiment.py experiments/report.yaml --print              # show the command, run nothing

The recipe's keys are checked against params.yaml first: a key params.yaml
does not hold stops here with its name, before DVC runs anything.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import shlex
import sys
from pathlib import Path

from textile_defects.experiments.recipe import check_recipe, read_recipe, set_arguments
from textile_defects.utils.stage import load_params, run_stage

log = logging.getLogger("experiment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", type=Path, help="recipe file (experiments/*.yaml)")
    parser.add_argument("--params", default="params.yaml", help="params file the recipe overrides (default: params.yaml)")
    parser.add_argument("--name", help="experiment name (default: <recipe>-<YYYYmmdd-HHMM>)")
    parser.add_argument("--print", action="store_true", help="print the dvc command instead of running it")
    args, dvc_options = parser.parse_known_args()
    params = load_params(args.params)
    overrides = read_recipe(args.recipe)
    check_recipe(overrides, params, str(args.recipe))
    name = args.name or f"{args.recipe.stem}-{datetime.datetime.now():%Y%m%d-%H%M}"
    command = ["dvc", "exp", "run", "-n", name, *set_arguments(overrides, params), *dvc_options]
    if args.print:
        print(shlex.join(command))
        return
    log.info("Running %s", shlex.join(command))
    sys.stdout.flush()
    os.execvp(command[0], command)


if __name__ == "__main__":
    run_stage(main)
