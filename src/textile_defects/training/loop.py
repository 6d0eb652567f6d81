"""The training schedule: epochs, encoder unfreezing, LR on plateau, early stopping, the epoch kept.

The report's recipe (``selection: best_val``): Adam trains the head and
classifier with the encoder frozen for ``unfreeze_epoch`` epochs, then the
encoder's last ``unfreeze_last_n`` layers join at their own small learning
rate; ReduceLROnPlateau watches the validation loss; training stops when the
validation F1 macro has not improved for ``early_stopping_patience`` epochs
of fine-tuning (frozen epochs never count: the encoder has not started to
learn); the best epoch by validation F1 macro is the model kept.

After every epoch, ``fit`` hands its whole state to an optional
:class:`EpochStates` (the trainer keeps it on disk,
:mod:`~textile_defects.training.resume`), and it resumes from a state it is
given: the epochs after it run exactly as they would have without the break.

``selection: last`` is a fixed schedule chosen in advance, for
cross-validation, where no image of the scored fold may pick anything: the
last epoch is kept, nothing stops early, ReduceLROnPlateau watches the
training loss, and a validation set is optional (scored for the history only).

Every loss reported is the weighted mean over the whole pass,
sum_i w_i l_i / sum_i w_i, the reduction each batch's loss uses, not an
average of per-batch means (batches differ in their class mix and weights).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from textile_defects.data.loading import to_model_input
from textile_defects.errors import ConfigError
from textile_defects.models.network import DefectClassifier
from textile_defects.runtime.devices import DeviceSetup
from textile_defects.stats.history import history_row
from textile_defects.stats.metrics import epoch_metrics
from textile_defects.training.config import TrainConfig
from textile_defects.training.distributed import DistContext, gather
from textile_defects.training.frozen_features import FeatureLoaders, can_cache, on_device
from textile_defects.training.losses import ClassWeightedLoss
from textile_defects.training.resume import rng_state, set_rng_state
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)

EpochCallback = Callable[[dict[str, float], bool, float], None]
"""Called after each epoch with (history row, is it the epoch kept so far, seconds taken)."""


class EpochStates(Protocol):
    """Where ``fit`` resumes from, and where it hands each epoch's state (see :func:`fit`)."""

    resumed: Mapping[str, Any] | None
    """The state of the last complete epoch of an interrupted run, or None to start at epoch 1."""

    def save(self, state: dict[str, Any]) -> None:
        """Keep ``state``, the state after its ``epoch``; called on every rank (rank 0 writes)."""


class EarlyStopping:
    """Tracks the best score (higher is better) and says when patience has run out."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best = -float("inf")
        self.epochs_without_improvement = 0

    def update(self, score: float, *, counts: bool = True) -> bool:
        """Record an epoch's score; True when it is a new best.

        An epoch with ``counts`` False (the encoder still frozen) can set a
        new best but never uses up patience.
        """
        if score > self.best:
            self.best = score
            self.epochs_without_improvement = 0
            return True
        if counts:
            self.epochs_without_improvement += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.epochs_without_improvement >= self.patience


@dataclasses.dataclass
class FitResult:
    """What training leaves: the per-epoch history and the kept epoch's weights (see ``selection``)."""

    history: list[dict[str, float]]
    kept_epoch: int
    kept_state: dict[str, torch.Tensor]


@dataclasses.dataclass
class PassResult:
    """One pass over a set on one rank: the loss's weighted sum and weight sum, (N,) targets and predictions."""

    loss_sum: float
    """sum_i w_i l_i over the pass's images."""
    weight_sum: float
    """sum_i w_i over the pass's images (N for an unweighted loss)."""
    targets: np.ndarray
    predictions: np.ndarray


def run_pass(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: ClassWeightedLoss,
    setup: DeviceSetup,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    desc: str = "",
    prepare: Callable[..., torch.Tensor] = to_model_input,
) -> PassResult:
    """One epoch over ``loader``: trains when given an ``optimizer``, else evaluates without gradients.

    ``prepare`` turns a loaded batch into ``model``'s input on the device: images by default,
    :func:`~textile_defects.training.frozen_features.on_device` for cached features.
    """
    training = optimizer is not None
    model.train(training)
    loss_sum = torch.zeros((), device=setup.device)
    weight_sum = torch.zeros((), device=setup.device)
    targets: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []
    with torch.set_grad_enabled(training):
        for images, labels in progress(loader, desc=desc, leave=False, unit="batch"):
            inputs = prepare(images, setup.device, channels_last=setup.channels_last)
            labels = labels.to(setup.device, non_blocking=True)
            with setup.autocast():
                logits = model(inputs)
            batch_loss, batch_weight = loss_fn.terms(logits.float(), labels)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                (batch_loss / batch_weight).backward()
                optimizer.step()
            # Summed on the device: no host sync per batch.
            loss_sum += batch_loss.detach()
            weight_sum += batch_weight.detach()
            targets.append(labels)
            predictions.append(logits.detach().argmax(dim=1))
    if not targets:  # a rank whose validation slice is empty (fewer images than ranks)
        return PassResult(0.0, 0.0, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return PassResult(
        float(loss_sum), float(weight_sum), torch.cat(targets).cpu().numpy(), torch.cat(predictions).cpu().numpy()
    )


def _gathered_metrics(context: DistContext, result: PassResult, num_classes: int) -> dict[str, float]:
    """Metrics over every rank's share of a set (identical on all ranks)."""
    parts = gather(context, result)
    return epoch_metrics(
        np.concatenate([p.targets for p in parts]),
        np.concatenate([p.predictions for p in parts]),
        num_classes,
        sum(p.loss_sum for p in parts) / sum(p.weight_sum for p in parts),
    )


class _Trainable:
    """The model as trained (wrapped in DDP across processes) and its one optimizer.

    DDP only synchronises parameters that required gradients when it was
    built, so unfreezing the encoder re-wraps the model.
    """

    def __init__(self, model: DefectClassifier, config: TrainConfig, setup: DeviceSetup, context: DistContext) -> None:
        self.model = model
        self.config = config
        self.setup = setup
        self.context = context
        self.optimizer = torch.optim.Adam(model.param_groups(config.lr_head, config.lr_encoder, config.weight_decay))
        self.wrapped = self._wrap()

    def _wrap(self) -> nn.Module:
        if not self.context.is_distributed:
            return self.model
        device_ids = [self.setup.device.index] if self.setup.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def unfreeze(self) -> None:
        """Unfreeze the encoder's last layers, to be fine-tuned at ``lr_encoder``.

        The optimizer already holds every parameter (frozen ones get no
        gradient, so Adam skips them); the plateau schedule may have lowered
        the encoder group's rate meanwhile, so fine-tuning restarts it at
        ``lr_encoder``, as in the report.
        """
        self.model.unfreeze_last(self.config.unfreeze_last_n)
        for group in self.optimizer.param_groups:
            if group["name"] == "encoder":
                group["lr"] = self.config.lr_encoder
        self.wrapped = self._wrap()


def fit(
    model: DefectClassifier,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    loss_fn: ClassWeightedLoss,
    config: TrainConfig,
    setup: DeviceSetup,
    context: DistContext,
    on_epoch: EpochCallback,
    states: EpochStates | None = None,
) -> FitResult:
    """Train ``model`` per ``config``; ``on_epoch`` hears of every epoch, ``states`` keeps each epoch's state.

    ``val_loader`` may be None only with ``selection: last``. Validation runs
    on the unwrapped model: it needs no gradient sync, and ranks may hold
    different numbers of validation images. With ``states.resumed``, training
    continues after that state's epoch (and returns at once if it was the last).
    """
    if val_loader is None and config.needs_validation:
        raise ConfigError(
            f"selection {config.selection!r} picks the epoch on a validation set, and none was given; "
            "pass one, or set selection: last (a fixed schedule)."
        )
    num_classes = len(model.classes)
    model.freeze_encoder()
    trainable = _Trainable(model, config, setup, context)
    if config.unfreeze_epoch == 0:
        trainable.unfreeze()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        trainable.optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
    )
    stopper = EarlyStopping(config.early_stopping_patience if config.needs_validation else None)
    watched = "val_loss" if config.needs_validation else "train_loss"
    history: list[dict[str, float]] = []
    kept_epoch, kept_state = 0, {}
    cached: FeatureLoaders | None = None
    first_epoch = 1
    resumed = None if states is None else states.resumed
    if resumed is not None:
        history, kept_epoch, kept_state = _restore(resumed, trainable, scheduler, stopper, (train_loader, val_loader), context)
        if resumed["finished"]:
            return FitResult(history, kept_epoch, kept_state)
        first_epoch = resumed["epoch"] + 1
    for epoch in range(first_epoch, config.epochs + 1):
        if epoch == config.unfreeze_epoch + 1 and epoch > 1:
            trainable.unfreeze()
            cached = None
            log.info("epoch %d: unfroze the encoder's last %d layer(s)", epoch, config.unfreeze_last_n)
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        started = time.perf_counter()
        lr = trainable.optimizer.param_groups[0]["lr"]
        if cached is None and config.cache_frozen_features and can_cache(
            model, (train_loader, val_loader), distributed=context.is_distributed
        ):
            cached = FeatureLoaders.build(model, train_loader, val_loader, setup)
        if cached is not None:
            # Same batches, same updates: only the classifier runs (see training.frozen_features).
            train = run_pass(
                model.classifier, cached.train, loss_fn, setup,
                optimizer=trainable.optimizer, desc=f"epoch {epoch} train", prepare=on_device,
            )
            val = None if cached.val is None else run_pass(
                model.classifier, cached.val, loss_fn, setup, desc=f"epoch {epoch} val", prepare=on_device
            )
        else:
            train = run_pass(trainable.wrapped, train_loader, loss_fn, setup, optimizer=trainable.optimizer, desc=f"epoch {epoch} train")
            val = None if val_loader is None else run_pass(model, val_loader, loss_fn, setup, desc=f"epoch {epoch} val")
        row = history_row(
            epoch,
            _gathered_metrics(context, train, num_classes),
            None if val is None else _gathered_metrics(context, val, num_classes),
            lr,
        )
        scheduler.step(row[watched])
        history.append(row)
        if config.needs_validation:
            kept = stopper.update(row["val_f1_macro"], counts=epoch > config.unfreeze_epoch)
        else:
            kept = epoch == config.epochs
        if kept:
            kept_epoch = epoch
            kept_state = {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
        on_epoch(row, kept, time.perf_counter() - started)
        if states is not None:
            states.save(
                _snapshot(
                    epoch, config.epochs, stopper.should_stop or epoch == config.epochs, trainable, scheduler, stopper,
                    history, kept_epoch, kept_state, (train_loader, val_loader), context,
                )
            )
        if stopper.should_stop:
            log.info(
                "early stop after epoch %d: no better val F1 macro for %d epochs since the encoder unfroze",
                epoch, config.early_stopping_patience,
            )
            break
    return FitResult(history, kept_epoch, kept_state)


def _started(loader: DataLoader | None) -> bool:
    """Whether ``loader`` holds a live iterator of persistent workers (made once, drawing a seed once)."""
    return loader is not None and getattr(loader, "_iterator", None) is not None


def _snapshot(
    epoch: int, epochs: int, finished: bool, trainable: _Trainable, scheduler: Any, stopper: EarlyStopping,
    history: list[dict[str, float]], kept_epoch: int, kept_state: dict[str, torch.Tensor],
    loaders: tuple[DataLoader, DataLoader | None], context: DistContext,
) -> dict[str, Any]:
    """Everything the epochs after ``epoch`` depend on; reading it draws no random number."""
    return {
        "epoch": epoch,
        "epochs": epochs,
        "finished": finished,
        "model": trainable.model.state_dict(),
        "optimizer": trainable.optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "stopper": {"best": stopper.best, "epochs_without_improvement": stopper.epochs_without_improvement},
        "history": history,
        "kept_epoch": kept_epoch,
        # Usually the epoch just trained: then the model's own weights, not a second copy.
        "kept_state": None if kept_epoch == epoch else kept_state,
        "sampler": loaders[0].sampler.state_dict() if hasattr(loaders[0].sampler, "state_dict") else {},
        "loaders_started": [_started(loader) for loader in loaders],
        "rng": gather(context, rng_state()),
    }


def _restore(
    state: Mapping[str, Any], trainable: _Trainable, scheduler: Any, stopper: EarlyStopping,
    loaders: tuple[DataLoader, DataLoader | None], context: DistContext,
) -> tuple[list[dict[str, float]], int, dict[str, torch.Tensor]]:
    """Put back :func:`_snapshot`'s state; returns the history, the kept epoch and its weights."""
    config = trainable.config
    if 0 < config.unfreeze_epoch < state["epoch"]:
        trainable.unfreeze()
    trainable.model.load_state_dict(state["model"])
    trainable.optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    stopper.best = state["stopper"]["best"]
    stopper.epochs_without_improvement = state["stopper"]["epochs_without_improvement"]
    kept_state = state["kept_state"]
    if kept_state is None:
        kept_state = {name: value.detach().to("cpu", copy=True) for name, value in trainable.model.state_dict().items()}
    # Persistent workers draw their seed when their iterator is made: make it before the generators go back.
    for loader, started in zip(loaders, state["loaders_started"], strict=True):
        if started and loader is not None:
            iter(loader)
    if hasattr(loaders[0].sampler, "load_state_dict"):
        loaders[0].sampler.load_state_dict(state["sampler"])
    set_rng_state(state["rng"][context.rank])
    log.info("resumed after epoch %d of %d (kept epoch so far: %d)", state["epoch"], state["epochs"], state["kept_epoch"])
    return list(state["history"]), int(state["kept_epoch"]), kept_state
