"""Which library files a stage script imports, for the checks that ``dvc.yaml``'s deps cover them."""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

from tests.helpers.repo import REPO_ROOT, tool_env

PACKAGE = "textile_defects"

# Imports a stage script as a module (its `if __name__ == "__main__"` block does
# not run) and prints the package's modules that came with it, as files.
_LIST_MODULES = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("stage_under_test", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
files = [getattr(module, "__file__", None) for name, module in sys.modules.items()
         if name == sys.argv[2] or name.startswith(sys.argv[2] + ".")]
print(json.dumps(sorted(f for f in files if f)))
"""


def stage_script(cmd: str) -> str:
    """The ``stages/*.py`` script that a stage's ``cmd`` runs."""
    scripts = [word for word in shlex.split(cmd) if word.startswith("stages/") and word.endswith(".py")]
    assert len(scripts) == 1, f"expected one stage script in {cmd!r}"
    return scripts[0]


@functools.cache  # the augment and train stages share a script
def imported_library_files(script: str) -> list[str]:
    """Repo-relative files of every ``textile_defects`` module that importing ``script`` loads."""
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, script, PACKAGE],
        cwd=REPO_ROOT,
        env=tool_env({"PYTHONPATH": str(REPO_ROOT / "src")}),
        capture_output=True,
        text=True,
        check=True,
    )
    files = [Path(path).resolve() for path in json.loads(listed.stdout)]
    outside = [path for path in files if not path.is_relative_to(REPO_ROOT)]
    assert not outside, f"{script} imported {PACKAGE} from outside this checkout: {outside}"
    return [path.relative_to(REPO_ROOT).as_posix() for path in files]


def covered(path: str, deps: list[str]) -> bool:
    """True when ``path`` is a dependency or lies in a dependency folder."""
    return any(dep == path or PurePosixPath(path).is_relative_to(dep) for dep in deps)


@dataclasses.dataclass(frozen=True)
class StageImports:
    """A stage's script, its declared deps, the library files the script imports, those not covered, and stale ones."""

    script: str
    deps: list[str]
    imported: list[str]
    missing: list[str]
    stale: list[str]
    """Package files in deps the script no longer imports: editing them would re-run the stage for nothing."""


def inspect_stage(definition: dict) -> StageImports:
    """What a dvc.yaml stage ``definition`` runs against what it declares."""
    deps = [PurePosixPath(dep).as_posix() for dep in definition["deps"]]
    script = stage_script(definition["cmd"])
    imported = imported_library_files(script)
    stale = [dep for dep in deps if dep.startswith(f"src/{PACKAGE}/") and dep.endswith(".py") and dep not in imported]
    return StageImports(script, deps, imported, [path for path in imported if not covered(path, deps)], stale)
