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

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record ``metrics`` at ``step`` (the epoch)."""

    def log_artifact(self, path: Path, folder: str) -> None:
        """Attach file ``path`` to the run under ``folder``."""


class MlflowTracker(Tracker):
    """A run in an MLflow tracking store, written through ``MlflowClient``."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

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


@contextlib.contextmanager
def mlflow_run(
    experiment: str, params: Mapping[str, Any], tags: Mapping[str, str], *, run_name: str | None, enabled: bool
) -> Iterator[Tracker]:
    """A tracked run for the block: params and tags logged at the start, status set at the end.

    ``run_name`` None lets MLflow pick a random one. Yields a plain
    :class:`Tracker` (which logs nothing) when ``enabled`` is false. A run
    whose block raises is marked FAILED.
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
        client = MlflowClient(tracking_uri=uri)
        experiment_id = _experiment_id(client, experiment, artifact_root)
        run_tags = {mlflow_tags.MLFLOW_GIT_COMMIT: git_commit(Path.cwd()), mlflow_tags.MLFLOW_SOURCE_NAME: "stages/train.py", **tags}
        run = client.create_run(experiment_id, tags=run_tags, run_name=run_name)
    except Exception as exc:  # any store failure: say where, and how to run without it
        raise PipelineError(
            f"MLflow tracking at {uri} failed ({exc}); fix MLFLOW_TRACKING_URI or set 'tracking: false' in params."
        ) from exc
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param(k, v) for k, v in sorted(flatten(params).items())])
    log.info("MLflow run %s in experiment '%s' at %s", run_id, experiment, uri)
    try:
        yield MlflowTracker(client, run_id)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
