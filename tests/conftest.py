"""Settings for the whole test session."""

from __future__ import annotations

import os

import pytest

from textile_defects.utils.params import available_cores


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject.toml's addopts start pytest-xdist's workers. With "-p no:xdist" nothing
    # would know those options and pytest would refuse to start: accept them, run here.
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "pytest-xdist is disabled (-p no:xdist)")
        group.addoption("--numprocesses", help="ignored: pytest-xdist is disabled")
        group.addoption("--dist", help="ignored: pytest-xdist is disabled")
        group.addoption("--no-loadscope-reorder", action="store_true", help="ignored: pytest-xdist is disabled")


def pytest_configure() -> None:
    # Under pytest-xdist, every worker gets its share of the cores for torch's (OpenMP's)
    # threads, in its own process and in the dvc and stage processes it starts: workers
    # that each start as many threads as there are cores spend their time waiting on
    # each other's (docs/results.md, "Measured"). An OMP_NUM_THREADS already set is kept.
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, available_cores() // int(workers))))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    # "--numprocesses auto" (pyproject.toml): one worker more than cores. The end-to-end tests
    # also wait (git, file copies, dvc's queue polls, SSH, watch mode's polling); with one
    # worker per core 10 % of the 2 cores stayed idle (docs/results.md, "Measured").
    return available_cores() + 1


@pytest.fixture(scope="session", autouse=True)
def _stage_imports_listed_once_per_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Under pytest-xdist the workers share one listing of what each stage script imports
    # (tests/helpers/stage_deps.py), kept in the run's temporary root, the parent of each worker's.
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        from tests.helpers import stage_deps

        stage_deps.SHARED_ROOT = tmp_path_factory.getbasetemp().parent
