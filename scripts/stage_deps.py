"""Check or rewrite the ``src/`` deps of every DVC stage: exactly the library files its script imports.

    python scripts/stage_deps.py           # list the stages whose deps differ; exit 1 if any
    python scripts/stage_deps.py --write   # rewrite those deps in place (comments and order kept)

A stage depends on the package's files that importing its script loads,
directly or indirectly, so editing a module re-runs exactly the stages that
use it. A folder dep (``src/textile_defects/utils``) stays and covers its
files. tests/pipeline/test_dvc_yaml.py checks the same from the tests.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the listing is the deps tests' own (tests/helpers/stage_deps.py)

from tests.helpers.stage_deps import imported_library_files  # noqa: E402

DVC_FILES = ("dvc.yaml", "crossval/dvc.yaml", "holdout/dvc.yaml")
PACKAGE_DIR = "src/textile_defects"


def _script(cmd: str) -> str:
    (script,) = [word for word in shlex.split(cmd) if word.startswith("stages/") and word.endswith(".py")]
    return script


def wanted_deps(current: list[str], script: str) -> list[str]:
    """The package deps a stage should list: its folder deps, then every imported file they do not cover."""
    folders = [dep for dep in current if not dep.endswith(".py")]
    files = [f for f in imported_library_files(script) if not any(PurePosixPath(f).is_relative_to(folder) for folder in folders)]
    return sorted(files, key=lambda f: (f.count("/") > 2, f)) + folders


def sync(dvc_file: Path, write: bool) -> list[str]:
    """The stages of ``dvc_file`` whose package deps differ (rewritten when ``write``)."""
    text = dvc_file.read_text(encoding="utf-8")
    stages = yaml.safe_load(text)["stages"]
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    changed: list[str] = []
    stage = None
    i = 0
    while i < len(lines):
        header = re.match(r"^  ([A-Za-z0-9_-]+):\s*$", lines[i])
        if header:
            stage = header.group(1)
        dep = re.match(rf"^(\s+)- ({re.escape(PACKAGE_DIR)}\S*)\s*$", lines[i])
        if dep and stage is not None:
            indent, run = dep.group(1), []
            while i < len(lines) and (m := re.match(rf"^\s+- ({re.escape(PACKAGE_DIR)}\S*)\s*$", lines[i])):
                run.append(m.group(1))
                i += 1
            definition = stages[stage].get("do", stages[stage])
            want = wanted_deps(run, _script(definition["cmd"]))
            if set(want) != set(run):
                added, removed = sorted(set(want) - set(run)), sorted(set(run) - set(want))
                changed.append(f"{dvc_file.relative_to(ROOT)}:{stage} (+{added} -{removed})")
            out.extend(f"{indent}- {path}\n" for path in (want if set(want) != set(run) else run))
            continue
        out.append(lines[i])
        i += 1
    if write and changed:
        dvc_file.write_text("".join(out), encoding="utf-8")
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the deps that differ")
    args = parser.parse_args()
    changed = [name for dvc_file in DVC_FILES for name in sync(ROOT / dvc_file, args.write)]
    for name in changed:
        print(f"{'rewrote' if args.write else 'differs'}: {name}")
    sys.exit(1 if changed and not args.write else 0)


if __name__ == "__main__":
    main()
