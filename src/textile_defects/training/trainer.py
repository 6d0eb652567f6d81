"""One training run, end to end: data, model, loss, sampler, schedule, outputs, tracking.

``stages/train.py`` calls :func:`train` with plain values from params.yaml.
Outputs (checkpoint and history) are written by rank 0 only, atomically, and
hold no wall-clock times, so an identical run writes identical bytes. With
``TrainJob.state_root`` set, each epoch's state is kept there and a re-run
of a killed training resumes from it (:mod:`~textile_defects.training.resume`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler, Sampler

from textile_defects.data.loading import CachedImageDataset, originals_per_class
from textile_defects.errors import ConfigError, DataError
from textile_defects.models.checkpoint import save_checkpoint
from textile_defects.models.config import MODEL_KEYS
from textile_defects.models.network import build_model
from textile_defects.runtime.devices import DeviceSetup
from textile_defects.stats.history import write_history
from textile_defects.training.config import TrainConfig
from textile_defects.training.devices import setup_training_device
from textile_defects.training.distributed import DistContext, RankSlice, broadcast, context_from_env, process_group
from textile_defects.training.loop import EpochCallback, FitResult, fit
from textile_defects.training.losses import build_loss
from textile_defects.training.resume import RunKey, TrainingState
from textile_defects.training.samplers import build_sampler
from textile_defects.training.tracking import Tracker, mlflow_run
from textile_defects.utils.seeding import derive_seed, seed_everything

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainJob:
    """Everything one run needs, as plain values (the stage script fills it from params.yaml)."""

    variant: str
    """The params section, ``train_baseline`` or ``train_post_baseline``."""
    config: TrainConfig
    """The section's settings; ``config.model`` is the architecture to build."""
    weights: str
    """Where the encoder starts: imagenet, none or a state-dict path."""
    classes: tuple[str, ...]
    """Class names in logit order."""
    good_class: str
    """The class meaning good fabric; stored in the checkpoint for evaluate and predict."""
    train_manifest: Path
    val_manifest: Path | None
    """The augmented validation set; None only with ``selection: last`` (a fixed schedule)."""
    model_path: Path
    history_path: Path
    state_root: Path | None = None
    """Where each epoch's state is kept, so that a killed run resumes (:func:`~textile_defects.training.resume.state_root`);
    None keeps none."""

    def __post_init__(self) -> None:
        if self.good_class not in self.classes:
            raise ConfigError(f"params.yaml good_class: got {self.good_class!r}; expected one of classes {list(self.classes)}.")

    @property
    def experiment(self) -> str:
        """MLflow experiment, named as in the report: ``post_baseline_<encoder>``."""
        return f"{self.variant.removeprefix('train_')}_{self.config.model.encoder}"

    def params(self) -> dict[str, Any]:
        """The params the stage read, as MLflow records them."""
        return {
            "encoder": self.config.model.encoder,
            "weights": self.weights,
            "classes": list(self.classes),
            "good_class": self.good_class,
            self.variant: self.config.as_params(),
        }

    def checkpoint_params(self) -> dict[str, Any]:
        """The training settings beside the model: the checkpoint stores model, classes and good class once, apart."""
        settings = {key: value for key, value in self.config.as_params().items() if key not in (*MODEL_KEYS, "model")}
        return {"weights": self.weights, self.variant: settings}


def _load(manifest: Path, job: TrainJob) -> CachedImageDataset:
    return CachedImageDataset.from_manifest(
        manifest, job.classes, job.config.model.image_size, memory_limit_mb=job.config.cache_memory_mb
    )


def _class_counts(train: CachedImageDataset, classes: Sequence[str], manifest: Path) -> list[int]:
    counts = originals_per_class(train.labels, train.original_ids, len(classes))
    empty = [name for name, count in zip(classes, counts, strict=True) if count == 0]
    if empty:
        raise DataError(f"{manifest}: no training images of class(es) {empty}; every class in params 'classes' needs some.")
    return counts


def _loaders(
    train: CachedImageDataset, val: CachedImageDataset | None, counts: list[int], job: TrainJob, setup: DeviceSetup, context: DistContext
) -> tuple[DataLoader, DataLoader | None]:
    """Training batches from the (rank's slice of the) weighted draw; validation (when there is a set) in order."""
    c = job.config
    labels = torch.as_tensor(train.labels)
    drawn: Sampler[int] | None = build_sampler(
        labels, counts, c.sampler, c.cb_beta, len(train), c.seed, loss_weighting=c.loss_weighting, combine=c.balance_combine
    )
    if drawn is None:
        drawn = RandomSampler(train, generator=torch.Generator().manual_seed(derive_seed(c.seed, "shuffle")))
    train_sampler = RankSlice(drawn, context.rank, context.world_size, pad=True)
    common = {
        "batch_size": c.batch_size,
        "num_workers": c.num_workers,
        "persistent_workers": c.num_workers > 0,
        "pin_memory": setup.pin_memory,
    }
    # Batch norm cannot train on a batch of one: drop a last batch that small.
    drop_last = len(train_sampler) % c.batch_size == 1
    train_loader = DataLoader(train, sampler=train_sampler, drop_last=drop_last, **common)
    if val is None:
        return train_loader, None
    val_sampler = RankSlice(range(len(val)), context.rank, context.world_size, pad=False)
    return train_loader, DataLoader(val, sampler=val_sampler, **common)


def _epoch_logger(tracker: Tracker, context: DistContext) -> EpochCallback:
    """Log each epoch's row once (rank 0: every rank holds the same gathered metrics)."""

    def on_epoch(row: dict[str, float], kept: bool, seconds: float) -> None:
        if not context.is_main:
            return
        val = ""
        if "val_loss" in row:
            val = (
                f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f}"
                f" f1m {row['val_f1_macro']:.3f} f1w {row['val_f1_weighted']:.3f}"
            )
        log.info(
            "epoch %d: train loss %.4f f1m %.3f%s | lr %.2g | %.1fs%s",
            row["epoch"], row["train_loss"], row["train_f1_macro"], val, row["lr"], seconds, " (kept)" if kept else "",
        )
        metrics = {k: v for k, v in row.items() if k != "epoch"}
        tracker.log_metrics({**metrics, "epoch_seconds": seconds}, step=int(row["epoch"]))

    return on_epoch


def _write_outputs(job: TrainJob, model: torch.nn.Module, result: FitResult, counts: list[int], tracker: Tracker) -> None:
    model.load_state_dict(result.kept_state)
    kept = result.history[result.kept_epoch - 1]
    kept_val = {k.removeprefix("val_"): v for k, v in kept.items() if k.startswith("val_")}
    extra = {
        "variant": job.variant,
        "selection": job.config.selection,
        "kept_epoch": result.kept_epoch,
        "epochs_run": len(result.history),
        "kept_val": kept_val,
        "class_counts": dict(zip(job.classes, counts, strict=True)),
    }
    save_checkpoint(job.model_path, model, good_class=job.good_class, params=job.checkpoint_params(), extra=extra)
    write_history(job.history_path, result.history)
    tracker.log_metrics({f"kept_val_{k}": v for k, v in kept_val.items()}, step=result.kept_epoch)
    tracker.log_artifact(job.model_path, "model")
    tracker.log_artifact(job.history_path, "history")
    log.info("kept epoch %d (%s): wrote %s and %s", result.kept_epoch, job.config.selection, job.model_path, job.history_path)


def _tracked_run(job: TrainJob, counts: list[int], context: DistContext, continue_run: str | None) -> AbstractContextManager[Tracker]:
    """This training's MLflow run (a tracker that logs nothing when off, and on ranks other than 0)."""
    # DVC names each experiment; the same name in MLflow links the two.
    exp_name = os.environ.get("DVC_EXP_NAME") or None
    tags = {"variant": job.variant, "DVC_EXP_NAME": exp_name or "", "world_size": str(context.world_size)}
    params = {**job.params(), "class_counts": dict(zip(job.classes, counts, strict=True))}
    enabled = job.config.tracking and context.is_main
    return mlflow_run(job.experiment, params, tags, run_name=exp_name, enabled=enabled, continue_run=continue_run)


class _RunStates:
    """The run's epoch states: rank 0 holds the file (:class:`TrainingState`), every rank resumes from its content."""

    def __init__(self, store: TrainingState | None, resumed: dict[str, Any] | None) -> None:
        self.store = store
        self.resumed = resumed
        self.run_id: str | None = None if resumed is None else resumed.get("run_id")

    @classmethod
    def open(cls, job: TrainJob, context: DistContext, device: str) -> _RunStates | None:
        if job.state_root is None:
            return None
        store, resumed = None, None
        if context.is_main:
            key = RunKey.for_run(
                job.params(), job.train_manifest, job.val_manifest, world_size=context.world_size, device=device
            )
            store = TrainingState(job.state_root, job.model_path, key)
            resumed = store.open()
        return cls(store, broadcast(context, resumed))

    def save(self, state: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.save({**state, "run_id": self.run_id})

    def close(self, *, succeeded: bool) -> None:
        """Remove the state once the outputs are written; keep it (unlocked) for a re-run after a failure."""
        if self.store is None:
            return
        if succeeded:
            self.store.finish()
        else:
            self.store.close()


def train(job: TrainJob) -> FitResult:
    """Train one variant; rank 0 writes ``job.model_path``, ``job.history_path`` and the MLflow run."""
    context = context_from_env()
    c = job.config
    setup = setup_training_device(c.device, c.amp, context.local_rank)
    with process_group(context, setup.device):
        seed_everything(c.seed)
        # The model first: missing weights fail in a second, not after decoding every image.
        model = build_model(c.model, job.classes, job.weights)
        memory_format = torch.channels_last if setup.channels_last else torch.contiguous_format
        model = model.to(setup.device, memory_format=memory_format)
        train_set = _load(job.train_manifest, job)
        val_set = None if job.val_manifest is None else _load(job.val_manifest, job)
        counts = _class_counts(train_set, job.classes, job.train_manifest)
        log.info(
            "%d training / %d validation images; originals per class %s",
            len(train_set), 0 if val_set is None else len(val_set), counts,
        )
        loss_fn = build_loss(
            c.loss, counts, c.loss_weighting, c.cb_beta, c.focal_gamma, sampler=c.sampler, combine=c.balance_combine
        ).to(setup.device)
        train_loader, val_loader = _loaders(train_set, val_set, counts, job, setup, context)
        states = _RunStates.open(job, context, setup.device.type)
        succeeded = False
        try:
            with _tracked_run(job, counts, context, None if states is None else states.run_id) as tracker:
                on_epoch = _epoch_logger(tracker, context)
                if states is not None:
                    states.run_id = tracker.run_id
                    if states.resumed is not None and not tracker.continued:
                        for row in states.resumed["history"]:  # a new MLflow run: give it the epochs before the break
                            tracker.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
                result = fit(model, train_loader, val_loader, loss_fn, c, setup, context, on_epoch, states)
                if context.is_main:
                    _write_outputs(job, model, result, counts, tracker)
            succeeded = True
        finally:
            if states is not None:
                states.close(succeeded=succeeded)
    return result
