"""Which library files a stage script imports, for the checks that ``dvc.yaml``'s deps cover them."""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

from filelock import FileLock

from tests.helpers.repo import REPO_ROOT, tool_env

PACKAGE = "textile_defects"

# Lists, for each stage script given, the package's modules that importing it loads, as
# files. The heavy third-party libraries are imported once, up front; then each script is
# imported in a fork of that process (its `if __name__ == "__main__"` block does not run), so
# every listing starts from a process without the package, as a stage's own process does,
# and none pays for torch again. Only the package's modules are listed, so what was
# preloaded changes nothing in the answer, only its cost.
_LIST_MODULES = """
import importlib, importlib.util, json, os, sys, traceback
for name in ("numpy", "torch", "torchvision", "PIL.Image", "scipy.ndimage", "sklearn.metrics", "sklearn.linear_model",
             "sklearn.pipeline", "yaml", "tqdm", "cv2", "matplotlib.pyplot", "onnxruntime", "onnx", "filelock", "mlflow"):
    try:
        importlib.import_module(name)
    except Exception:
        pass  # the script imports it itself, if it needs it
package, scripts, found = sys.argv[1], sys.argv[2:], {}
for script in scripts:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            spec = importlib.util.spec_from_file_location("stage_under_test", script)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            files = [getattr(module, "__file__", None) for name, module in sys.modules.items()
                     if name == package or name.startswith(package + ".")]
            answer = {"files": sorted(f for f in files if f)}
        except BaseException:
            answer = {"error": traceback.format_exc()}
        os.write(write_end, json.dumps(answer).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    found[script] = json.loads(b"".join(chunks) or b'{"error": "the import process died"}')
print(json.dumps(found))
"""


def stage_script(cmd: str) -> str:
    """The ``stages/*.py`` script that a stage's ``cmd`` runs."""
    scripts = [word for word in shlex.split(cmd) if word.startswith("stages/") and word.endswith(".py")]
    assert len(scripts) == 1, f"expected one stage script in {cmd!r}"
    return scripts[0]


SHARED_ROOT: Path | None = None
"""Under pytest-xdist, the run's temporary root that every worker shares (set by tests/conftest.py)."""


@functools.cache
def _every_script_imports() -> dict[str, list[str]]:
    """``{stages/<script>.py: [files]}`` for every script in ``stages/``, listed once per test run.

    Under pytest-xdist the first worker to ask lists them and leaves the answer in
    :data:`SHARED_ROOT`, so the other workers read it instead of paying the same 10-20 s.
    """
    if SHARED_ROOT is None:
        return _list_every_script_imports()
    shared = SHARED_ROOT / "stage-imports.json"
    with FileLock(SHARED_ROOT / "stage-imports.lock"):
        if not shared.is_file():
            staging = SHARED_ROOT / "stage-imports.json.tmp"
            staging.write_text(json.dumps(_list_every_script_imports()), encoding="utf-8")
            staging.replace(shared)
        return json.loads(shared.read_text(encoding="utf-8"))


def _list_every_script_imports() -> dict[str, list[str]]:
    """``{stages/<script>.py: [files]}`` for every script in ``stages/``, listed in one process (see above)."""
    scripts = sorted(path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "stages").glob("*.py"))
    listed = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, PACKAGE, *scripts],
        cwd=REPO_ROOT,
        env=tool_env({"PYTHONPATH": str(REPO_ROOT / "src")}),
        capture_output=True,
        text=True,
        check=True,
    )
    return {script: answer.get("files") or [f"!{answer.get('error')}"] for script, answer in json.loads(listed.stdout).items()}


def imported_library_files(script: str) -> list[str]:
    """Repo-relative files of every ``textile_defects`` module that importing ``script`` loads."""
    listing = _every_script_imports()
    assert script in listing, f"{script} is not a script in stages/"
    assert not listing[script][0].startswith("!"), f"importing {script} failed:\n{listing[script][0][1:]}"
    files = [Path(path).resolve() for path in listing[script]]
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
