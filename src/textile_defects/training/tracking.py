"""MLflow tracking: one run per training, in the repository's own ``mlflow.db``.

The tracking URI defaults to ``sqlite:///<repo root>/mlflow.db``, with
artifacts under ``<repo root>/mlartifacts/<experiment>/<run id>``. The
repository root is ``$DVC_ROOT`` when DVC sets it (``dvc exp run --queue``
trains in a temporary copy, and its runs must still land in the main
repository), else the git top level of the working directory.
``MLFLOW_TRACKING_URI`` overrides all of this (a team server).

Wall-clock times go here (and to the log), never into DVC outputs.

``mlflow`` is imported only when a run is tracked: the import takes seconds,
which a run with tracking off, or a rank other than 0, need not pay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from textile_defects.errors import PipelineError

log = logging.getLogger(__name__)


def repo_root() -> Path:
    """The main repository: ``$DVC_ROOT``, else the git top level, else the working directory.

    Queued and ``--temp`` experiments run in a throwaway copy under
    ``<main>/.dvc/tmp/exps/``; their runs belong in ``<main>``'s database.
    """
    if os.environ.get("DVC_ROOT"):
        root = Path(os.environ["DVC_ROOT"]).resolve()
    else:
        try:
            top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True)
            root = Path(top.stdout.strip()).resolve()
        except (OSError, subprocess.CalledProcessError):
            root = Path.cwd().resolve()
    parts = root.parts
    for index in range(len(parts) - 2):
        if parts[index : index + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:index])
    return root


def tracking_uri(root: Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else a SQLite file in ``root``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


def git_commit(root: Path) -> str:
    """The commit checked out in ``root``, or ``unknown`` (not a git repository, no commits yet)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip()


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as MLflow's flat string params: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


class Tracker:
    """Logs one run's metrics and files; this base class logs nothing (tracking off, or rank > 0)."""

    run_id: str | None = None
    """The MLflow run, when there is one."""
    continued: bool = False
    """Whether the run is an earlier, interrupted run's, continued (its earlier epochs are logged)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record ``metrics`` at ``step`` (the epoch)."""

    def log_artifact(self, path: Path, folder: str) -> None:
        """Attach file ``path`` to the run under ``folder``."""


class MlflowTracker(Tracker):
    """A run in an MLflow tracking store, written through ``MlflowClient``."""

    def __init__(self, client: Any, run_id: str, *, continued: bool = False) -> None:
        self.client = client
        self.run_id = run_id
        self.continued = continued

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        batch = [Metric(key, float(value), now_ms, step) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: Path, folder: str) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=folder)


def _experiment_id(client: Any, name: str, artifact_root: Path | None) -> str:
    """The id of experiment ``name``, created on first use (tolerating a concurrent creator)."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = (artifact_root / name).as_uri() if artifact_root is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI; None for any other store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(uri[len(prefix) :])


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold a file lock beside a SQLite store while it is opened (created and migrated on first use).

    MLflow creates a missing SQLite store and runs its migrations on the first
    client call; several processes doing that at once (``dvc queue start -j 2``
    on a fresh clone) fail in the migration. Once the store exists, SQLite
    serialises its writers itself. A server or another database needs no lock.
    """
    database = sqlite_path(uri)
    if database is None:
        yield
        return
    from filelock import FileLock

    database.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(database.with_name(f"{database.name}.lock")):
        yield


def _continued_run(client: Any, run_id: str | None, experiment_id: str) -> bool:
    """Whether ``run_id`` is a run of this experiment in this store, marked running again."""
    from mlflow.exceptions import MlflowException

    if run_id is None:
        return False
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    if run.info.experiment_id != experiment_id:
        return False
    client.update_run(run_id, status="RUNNING")
    return True


@contextlib.contextmanager
def mlflow_run(
    experiment: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    *,
    run_name: str | None,
    enabled: bool,
    continue_run: str | None = None,
) -> Iterator[Tracker]:
    """A tracked run for the block: params and tags logged at the start, status set at the end.

    ``run_name`` None lets MLflow pick a random one. Yields a plain
    :class:`Tracker` (which logs nothing) when ``enabled`` is false. A run
    whose block raises is marked FAILED. ``continue_run``: the id of an
    interrupted run of the same training, continued when the store still holds
    it (the tracker says so in ``continued``), else a new run starts.
    """
    if not enabled:
        yield Tracker()
        return
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient
    from mlflow.utils import mlflow_tags

    root = repo_root()
    uri = tracking_uri(root)
    # Our own artifact folder only beside our own default store; a server decides for itself.
    artifact_root = root / "mlartifacts" if "MLFLOW_TRACKING_URI" not in os.environ else None
    try:
        with store_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            experiment_id = _experiment_id(client, experiment, artifact_root)
        continued = _continued_run(client, continue_run, experiment_id)
        if continued:
            run_id = str(continue_run)
        else:
            run_tags = {mlflow_tags.MLFLOW_GIT_COMMIT: git_commit(Path.cwd()), mlflow_tags.MLFLOW_SOURCE_NAME: "stages/train.py", **tags}
            run_id = client.create_run(experiment_id, tags=run_tags, run_name=run_name).info.run_id
    except Exception as exc:  # any store failure: say where, and how to run without it
        raise PipelineError(
            f"MLflow tracking at {uri} failed ({exc}); fix MLFLOW_TRACKING_URI or set 'tracking: false' in params."
        ) from exc
    if not continued:
        client.log_batch(run_id, params=[Param(k, v) for k, v in sorted(flatten(params).items())])
    log.info("MLflow run %s in experiment '%s' at %s%s", run_id, experiment, uri, " (continued)" if continued else "")
    try:
        yield MlflowTracker(client, run_id, continued=continued)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
