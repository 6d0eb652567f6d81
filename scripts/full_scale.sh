#!/usr/bin/env bash
# The report's full scale as one DVC experiment, for a GPU machine: its recipe,
# defined once in experiments/report.yaml (F = 200, the stored 1270x720 frame
# into the learned head, its schedules, samplers and loss weights each in full).
# Usage: bash scripts/full_scale.sh [-S encoder=resnet18] [--queue] [other dvc exp run options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python
exec "$python" scripts/experiment.py experiments/report.yaml "$@"
