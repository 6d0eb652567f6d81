"""The package's layers, written once in pyproject.toml ([tool.importlinter]): an upward import fails here.

From the top: predict and the hold-out; the decision rules; naming the defect;
the cross-validation and the gate; training and evaluation; augment, models and runtime; data,
experiments and stats; utils; errors. A module imports only from the layers
below its own; the packages of one layer never import each other. Evaluation,
predict and inference never import training, not even through another module.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.helpers.repo import REPO_ROOT, tool_env

PACKAGE = "textile_defects"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts, on the package found under ``src``."""
    return subprocess.run(
        ["lint-imports", str(REPO_ROOT / "pyproject.toml"), "--no-cache"],
        cwd=REPO_ROOT,
        env=tool_env({"PYTHONPATH": str(src)}),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(REPO_ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "src" / PACKAGE, src / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    metrics = src / PACKAGE / "stats" / "metrics.py"
    metrics.write_text(metrics.read_text(encoding="utf-8") + "\nfrom textile_defects.training.config import TrainConfig\n", encoding="utf-8")
    result = lint_imports(src)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "textile_defects.stats.metrics -> textile_defects.training.config" in result.stdout
    # evaluation imports stats.metrics, so evaluation now reaches training too.
    assert "Evaluation, predict and inference never import training BROKEN" in result.stdout
