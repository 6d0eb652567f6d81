"""End-to-end tests: the real ``dvc``, ``git``, ``torchrun`` and OpenSSH on tiny copies of the project.

Every test in this folder is marked ``slow``, so ``pytest -m "not slow"``
runs the unit tests alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers.repo import make_tiny_repo, run

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A conftest hook sees the whole session's items, not only this folder's.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        _long_files_first(items)


# The file that builds reproduced_tiny_repo: one with short tests, so the build is the only
# long wait of its worker; the longest users follow, in this order, as soon as it is built.
_BUILDER = "test_pipeline.py"
_LONGEST_USERS = ("test_crossval_pipeline.py", "test_holdout_pipeline.py", "test_encoders.py", "test_reproduction.py")


def _long_files_first(items: list[pytest.Item]) -> None:
    """Order the files for pytest-xdist's workers (``--dist loadfile`` hands them out in this order).

    The end-to-end files, which take minutes each, start first, and the short
    unit test files fill the gaps at the end. :data:`_BUILDER` leads, as its
    worker builds :func:`reproduced_tiny_repo`; the end-to-end files that do
    not need it follow, so the other worker has work while it is built, then
    the users, longest first. Every worker computes the same order.
    """
    users = {item.path for item in items if "reproduced_tiny_repo" in item.fixturenames}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if not item.path.is_relative_to(_HERE):
            return 3, 0
        if item.path.name == _BUILDER and item.path in users:
            return 0, 0
        if item.path not in users:
            return 1, 0
        longest = _LONGEST_USERS.index(item.path.name) if item.path.name in _LONGEST_USERS else len(_LONGEST_USERS)
        return 2, longest

    items.sort(key=rank)


def _reproduce(repo: Path) -> Path:
    make_tiny_repo(repo)
    run(["git", "tag", "before-repro"], repo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "reproduce tiny pipeline"], repo)
    return repo


@pytest.fixture(scope="session")
def reproduced_tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pipeline reproduced once per test session and committed.

    The commit before ``dvc repro`` is tagged ``before-repro``. Shared by the
    end-to-end, reproduction and SSH modules, so never change it: take a
    :func:`~tests.helpers.repo.copy_of_repo`.

    Under pytest-xdist the first worker to ask builds it in the session's
    temporary root (the parent of every worker's own) while holding a lock;
    the others wait for it and reuse it. A failed build is recorded there, so
    the other workers fail at once with its message instead of building again.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _reproduce(tmp_path_factory.mktemp("reproduced") / "repo")
    session_root = tmp_path_factory.getbasetemp().parent
    repo = session_root / "reproduced" / "repo"
    done, failure = session_root / "reproduced.done", session_root / "reproduced.failed"
    with FileLock(session_root / "reproduced.lock"):
        if failure.is_file():
            pytest.fail(f"another worker could not reproduce the tiny pipeline:\n{failure.read_text()}")
        if not done.is_file():
            try:
                _reproduce(repo)
            except BaseException as error:
                failure.write_text(str(error))
                raise
            done.touch()
    return repo
