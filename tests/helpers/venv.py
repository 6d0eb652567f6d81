"""A clean virtual environment holding only named distributions (and what they require), without pip or a network.

``python -m venv --without-pip`` makes it; each wanted distribution's installed
files are linked into it from this environment (file by file, so a shared
namespace folder such as ``google/`` brings only the wanted package). Nothing
else is importable there: the test of a bundle proves what the line PC needs.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(names: list[str]) -> list[str]:
    """``names`` and every distribution they require (markers evaluated, no extras), canonical names, sorted."""
    seen: set[str] = set()
    todo = [canonicalize_name(name) for name in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                try:
                    distribution(requirement.name)
                except PackageNotFoundError:
                    continue
                todo.append(canonicalize_name(requirement.name))
    return sorted(seen)


def clean_venv(folder: Path, names: list[str]) -> Path:
    """A venv in ``folder`` where only ``names`` (and their requirements) are installed; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = folder / "lib" / version / "site-packages"
    for name in closure(names):
        dist = distribution(name)
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            if file.parts[0] in ("..", "") or "__pycache__" in file.parts or not source.is_file():
                continue
            target = site / Path(*file.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.symlink_to(source)
    return folder / "bin" / "python"
