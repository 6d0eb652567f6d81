"""Shared plumbing for the thin scripts under ``stages/``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from textile_defects.errors import ConfigError, PipelineError
from textile_defects.utils.logs import setup_logging
from textile_defects.utils.write_errors import WRITE_ONLY_ERRNOS, output_error

log = logging.getLogger(__name__)


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml``; a missing or malformed file is a :class:`ConfigError`."""
    params_path = Path(path)
    if not params_path.is_file():
        raise ConfigError(f"{params_path}: params file not found; run from the repository root or pass --params.")
    try:
        loaded = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{params_path}: not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{params_path}: expected a mapping of sections at the top level, got {type(loaded).__name__}.")
    return loaded


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of params; says which section is missing and where."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise ConfigError(f"params.yaml: section '{name}' is missing or not a mapping.")
    return value


def stage_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every stage accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser


def run_stage(main: Callable[[], Any]) -> None:
    """Run a stage's ``main``: actionable errors go to stderr with exit code 2.

    A full disk (or quota, or read-only file system) met outside the atomic
    writers, which name their output themselves, is reported the same way,
    with the file the OS named, or the working directory.
    """
    setup_logging()
    try:
        main()
    except PipelineError as exc:
        log.error("%s", exc)
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in WRITE_ONLY_ERRNOS:
            raise
        if isinstance(exc.filename, str):
            log.error("%s", output_error(exc, exc.filename, partial_removed=False))
        else:  # a failed write() names no file
            cwd = Path.cwd()
            log.error("%s", output_error(exc, cwd, partial_removed=False, described=f"a file (the OS names none) from {cwd}"))
        sys.exit(2)
    except KeyboardInterrupt:
        log.error("interrupted; no partial outputs were written")
        sys.exit(130)
