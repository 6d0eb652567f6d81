"""End-to-end tests: the real ``dvc``, ``git``, ``torchrun`` and OpenSSH on tiny copies of the project.

Every test in this folder is marked ``slow``, so ``pytest -m "not slow"``
runs the unit tests alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.repo import make_tiny_repo, run

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A conftest hook sees the whole session's items, not only this folder's.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def reproduced_tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pipeline reproduced once per test session and committed.

    The commit before ``dvc repro`` is tagged ``before-repro``. Shared by the
    end-to-end, reproduction and SSH modules, so never change it: take a
    :func:`~tests.helpers.repo.copy_of_repo`.
    """
    repo = make_tiny_repo(tmp_path_factory.mktemp("reproduced") / "repo")
    run(["git", "tag", "before-repro"], repo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "reproduce tiny pipeline"], repo)
    return repo
