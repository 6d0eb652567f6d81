#!/usr/bin/env bash
# One-step, idempotent set-up: a virtual environment in .venv with the pinned
# dependencies (constraints.txt) and this package, installed in editable mode.
#   --test   also install what the test suite needs from the OS (openssh-server,
#            for the DVC SSH-remote tests), when running as root with apt-get.
# Re-running is cheap: the install is skipped while pyproject.toml and
# constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want_test_tools=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test_tools=1 ;;
    *) echo "setup.sh: unknown option '$arg' (known: --test)" >&2; exit 2 ;;
  esac
done

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
  if command -v python3.11 >/dev/null 2>&1; then
    python_bin=python3.11
  else
    echo "setup.sh: Python 3.11 is required (torch==2.14.1 wheels); set PYTHON=/path/to/python3.11" >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup.sh: creating .venv with $("$python_bin" --version)" >&2
  "$python_bin" -m venv .venv
fi

stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup.sh: installing pinned dependencies (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" >&2 || true
  # pip's exit status is lost in the pipe above: check the install for real.
  .venv/bin/python -c 'import torch, torchvision, dvc, mlflow, textile_defects' \
    || { echo "setup.sh: installation failed; see the pip output above" >&2; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [ "$want_test_tools" = 1 ] && ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: installing openssh-server for the SSH-remote tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null) \
      || echo "setup.sh: could not install openssh-server; the SSH-remote tests will be skipped" >&2
  else
    echo "setup.sh: sshd not found and cannot install it here; the SSH-remote tests will be skipped" >&2
  fi
fi
