"""Resumable training: each epoch's full state, kept where a failed stage leaves it alone.

DVC removes a stage's outputs before running it, so the state lives outside
them: in ``<repository root>/.training-state/`` (git-ignored; the main
repository's even for a queued experiment, which trains in a temporary copy;
``$TEXTILE_TRAINING_STATE`` moves it). One sub-folder per output, one file
per configuration, named by the hash of what the run depends on
(:class:`RunKey`: the params, both manifests, the training code, torch, the
number of processes, the device type). After every epoch rank 0 replaces the
file atomically with everything the next epoch needs: model, optimizer, LR
schedule, early stopping, the history and kept epoch, the sampler's and every
rank's random number generators. Re-running the stage resumes after the last
complete epoch; on CPU the result is byte-identical to an uninterrupted run
(the state is read and written without drawing a random number). A state of
another configuration of the same output is never resumed: it is removed, and
the log says what changed. The state is removed once the outputs are written.

A lock held for the whole run keeps two processes from sharing one state
(two queued experiments training the same configuration): the second trains
without one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout

import textile_defects
from textile_defects.errors import OutputError
from textile_defects.training.tracking import repo_root
from textile_defects.utils.atomic import atomic_write_json, atomic_write_stream

log = logging.getLogger(__name__)

STATE_DIR_ENV = "TEXTILE_TRAINING_STATE"
"""Environment variable naming the folder for training states (default: ``<repo root>/.training-state``)."""
STATE_DIR_NAME = ".training-state"
STATE_FORMAT = "textile-defects-training-state-1"
TRAINING_CODE = ("__init__.py", "errors.py", "data", "models", "runtime", "stats", "training", "utils")
"""The package's files a training run executes (its layers from ``training`` down); a change to any restarts."""


def state_root() -> Path:
    """``$TEXTILE_TRAINING_STATE``, else ``.training-state`` in the main repository (:func:`repo_root`)."""
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).absolute() if configured else repo_root() / STATE_DIR_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_digest() -> str:
    """One hash over the source of the training code (:data:`TRAINING_CODE`)."""
    package = Path(textile_defects.__file__).parent
    digest = hashlib.sha256()
    for entry in TRAINING_CODE:
        path = package / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


class RunKey:
    """What a training state is valid for: each part by name, so a mismatch can say what changed."""

    def __init__(self, parts: Mapping[str, str]) -> None:
        self.parts = dict(parts)

    @classmethod
    def for_run(
        cls, params: Mapping[str, Any], train_manifest: Path, val_manifest: Path | None, *, world_size: int, device: str
    ) -> RunKey:
        """The key of a run of ``params`` on these manifests (which hash every image they list)."""
        return cls(
            {
                "params": _sha256(json.dumps(params, sort_keys=True, default=str).encode()),
                "training manifest": _sha256(Path(train_manifest).read_bytes()),
                "validation manifest": "none" if val_manifest is None else _sha256(Path(val_manifest).read_bytes()),
                "training code": code_digest(),
                "torch": str(torch.__version__),
                "processes": str(world_size),
                "device": device,
            }
        )

    @property
    def digest(self) -> str:
        return _sha256(json.dumps(self.parts, sort_keys=True).encode())[:20]

    def changed(self, other: Mapping[str, str]) -> list[str]:
        """The parts that differ from ``other``'s, by name."""
        return sorted(name for name in self.parts.keys() | other.keys() if self.parts.get(name) != other.get(name))


def slot_name(output: Path) -> str:
    """A folder name for ``output``: its path from the working directory, made safe for a file name."""
    absolute = Path(output).absolute()
    try:
        shown = absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        shown = absolute.as_posix()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", shown).strip("_")
    if len(name) > 80:
        name = f"{name[-60:]}-{_sha256(shown.encode())[:12]}"
    return name


def rng_state() -> dict[str, Any]:
    """Every generator this process draws from (torch CPU and CUDA, NumPy, Python), as plain values and tensors."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": position, "has_gauss": has_gauss, "cached": cached},
        "python": random.getstate(),
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Put back what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state["numpy"]
    np.random.set_state((saved["kind"], saved["keys"].numpy().astype(np.uint32), saved["pos"], saved["has_gauss"], saved["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


class TrainingState:
    """The state file of one output's run, under a lock for as long as the run holds it.

    ``open()`` then ``save()`` after each epoch; ``finish()`` after the outputs
    are written (removes it), ``close()`` on failure (keeps it for the re-run).
    """

    def __init__(self, root: Path, output: Path, key: RunKey) -> None:
        self.output = output
        self.key = key
        self.folder = Path(root) / slot_name(output)
        self.path = self.folder / f"{key.digest}.pt"
        self.info_path = self.folder / f"{key.digest}.json"
        self._lock: FileLock | None = None

    @property
    def enabled(self) -> bool:
        """Whether this run holds the state (False: another process trains the same configuration)."""
        return self._lock is not None

    def open(self) -> dict[str, Any] | None:
        """Take the lock, drop other configurations' states of this output, load this one's (None: start fresh)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.folder / f"{self.key.digest}.lock", timeout=0)
            lock.acquire()
        except Timeout:
            log.warning(
                "training state %s is held by another process training the same configuration; "
                "this run keeps no state and cannot resume if killed", self.path,
            )
            return None
        except OSError as exc:
            log.warning("training state: cannot use %s (%s); this run cannot resume if killed", self.folder, exc)
            return None
        self._lock = lock
        self._discard_other_configurations()
        payload = self._load()
        if payload is None:
            log.info(
                "training state: %s (each epoch; a killed run resumes from its last complete epoch; removed on success)",
                self.path,
            )
        return payload

    def _discard_other_configurations(self) -> None:
        for info_path in sorted(self.folder.glob("*.json")):
            digest = info_path.stem
            if digest == self.key.digest:
                continue
            other = FileLock(self.folder / f"{digest}.lock", timeout=0)
            try:
                other.acquire()
            except Timeout:
                continue  # another run of this output is training with it
            try:
                info = json.loads(info_path.read_text(encoding="utf-8"))
                changed = self.key.changed(info.get("key", {}))
                log.info(
                    "training state %s: not resumed, removed (epoch %s of %s, of another configuration: %s changed)",
                    self.folder / f"{digest}.pt", info.get("epoch"), info.get("epochs"), ", ".join(changed) or "format",
                )
            except (OSError, ValueError):
                log.info("training state %s: unreadable description, removed", info_path)
            for leftover in (self.folder / f"{digest}.pt", info_path):
                leftover.unlink(missing_ok=True)
            other.release()
            (self.folder / f"{digest}.lock").unlink(missing_ok=True)

    def _load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a state from another torch, or damaged: never worth failing the run for
            log.warning("training state %s is unreadable (%s); starting fresh", self.path, exc)
            return None
        if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT or payload.get("key") != self.key.parts:
            log.warning("training state %s does not match this run; starting fresh", self.path)
            return None
        log.info(
            "training state: resuming %s after epoch %d of %d from %s",
            self.output, payload["epoch"], payload["epochs"], self.path,
        )
        return payload

    def save(self, payload: Mapping[str, Any]) -> None:
        """Replace the state with ``payload`` (an epoch's), atomically; a failed write only costs resumability."""
        if not self.enabled:
            return
        full = {"format": STATE_FORMAT, "key": self.key.parts, **payload}
        started = time.perf_counter()
        try:
            atomic_write_stream(self.path, lambda handle: torch.save(full, handle))
            atomic_write_json(
                self.info_path,
                {"output": str(self.output), "key": self.key.parts, "epoch": payload["epoch"], "epochs": payload["epochs"]},
            )
        except OutputError as exc:
            log.warning("training state after epoch %d not saved; training goes on. %s", payload["epoch"], exc)
            return
        log.debug(
            "training state after epoch %d: %.1f MB in %.2f s",
            payload["epoch"], self.path.stat().st_size / 1e6, time.perf_counter() - started,
        )

    def close(self) -> None:
        """Release the lock and keep the state (the run failed: a re-run resumes from it)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def finish(self) -> None:
        """Remove the state (the outputs are written) and the folders it leaves empty."""
        if not self.enabled:
            return
        for path in (self.path, self.info_path):
            path.unlink(missing_ok=True)
        self.close()
        (self.folder / f"{self.key.digest}.lock").unlink(missing_ok=True)
        for folder in (self.folder, self.folder.parent):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: other outputs' states
        log.info("training state %s removed (outputs written)", self.path)
