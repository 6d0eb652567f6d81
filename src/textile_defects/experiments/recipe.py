"""A recipe: a checked-in file of params.yaml overrides that runs as one DVC experiment.

A recipe has the shape of params.yaml, holding only the keys it changes
(``experiments/report.yaml``, the report's own recipe). It can only name keys
params.yaml holds: a key renamed in params.yaml makes every recipe that sets
it fail here, before any work, instead of `dvc exp run -S` quietly adding a
key that no stage reads. :func:`set_arguments` turns it into the ``-S``
overrides of one ``dvc exp run``; :func:`apply` lays it over a params mapping
(what the tests run).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from textile_defects.errors import ConfigError


def read_recipe(path: Path) -> dict[str, Any]:
    """The overrides of recipe file ``path``, a non-empty mapping shaped like params.yaml."""
    if not path.is_file():
        raise ConfigError(f"{path}: recipe file not found; recipes live in experiments/ (e.g. experiments/report.yaml).")
    try:
        overrides = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error}); fix the file.") from None
    if not isinstance(overrides, dict) or not overrides:
        raise ConfigError(f"{path}: expected a mapping of params.yaml keys to override, got {type(overrides).__name__}.")
    return overrides


def _leaves(overrides: Mapping[str, Any], params: Any, prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(dotted key, value, known) for every leaf; a mapping over a params mapping is walked into."""
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        known = isinstance(params, Mapping) and key in params
        if isinstance(value, Mapping) and known and isinstance(params[key], Mapping):
            yield from _leaves(value, params[key], f"{path}.")
        else:
            yield path, value, known


def check_recipe(overrides: Mapping[str, Any], params: Mapping[str, Any], source: str) -> None:
    """Raise one :class:`ConfigError` naming every key of ``overrides`` that ``params`` does not hold."""
    unknown = [path for path, _value, known in _leaves(overrides, params) if not known]
    if unknown:
        raise ConfigError(
            f"{source}: {', '.join(unknown)} not in params.yaml; a key was renamed or removed there. "
            "Rename it in the recipe too (params.yaml's comments say what each key holds)."
        )


def set_arguments(overrides: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The recipe as ``dvc exp run`` arguments: ``-S key.path=value`` per leaf, values in YAML flow style."""
    arguments: list[str] = []
    for path, value, _known in _leaves(overrides, params):
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
        arguments += ["-S", f"{path}={text}"]
    return arguments


def apply(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with ``overrides`` laid over it, recursively (as the ``-S`` arguments would set it)."""
    merged = copy.deepcopy(dict(params))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = apply(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
