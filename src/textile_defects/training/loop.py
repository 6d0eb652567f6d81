"""The training schedule: epochs, encoder unfreezing, LR on plateau, early stopping.

The report's recipe: Adam trains the head and classifier with the encoder
frozen for ``unfreeze_epoch`` epochs, then the encoder's last
``unfreeze_last_n`` layers join at their own small learning rate;
ReduceLROnPlateau watches the validation loss; training stops when the
validation F1 macro has not improved for ``early_stopping_patience`` epochs;
the best epoch by validation F1 macro is the model kept.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from textile_defects.data.loading import to_model_input
from textile_defects.models.network import DefectClassifier
from textile_defects.training.config import TrainConfig
from textile_defects.training.devices import DeviceSetup
from textile_defects.training.distributed import DistContext, gather
from textile_defects.training.metrics import classification_metrics
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)

EpochCallback = Callable[[dict[str, float], bool, float], None]
"""Called after each epoch with (history row, is it the best so far, seconds taken)."""


class EarlyStopping:
    """Tracks the best score (higher is better) and says when patience has run out."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best = -float("inf")
        self.epochs_without_improvement = 0

    def update(self, score: float) -> bool:
        """Record an epoch's score; True when it is a new best."""
        if score > self.best:
            self.best = score
            self.epochs_without_improvement = 0
            return True
        self.epochs_without_improvement += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.epochs_without_improvement >= self.patience


@dataclasses.dataclass
class FitResult:
    """What training leaves: the per-epoch history and the best epoch's weights."""

    history: list[dict[str, float]]
    best_epoch: int
    best_state: dict[str, torch.Tensor]


@dataclasses.dataclass
class PassResult:
    """One pass over a set on one rank: summed loss, (N,) targets and predictions."""

    loss_sum: float
    targets: np.ndarray
    predictions: np.ndarray


def run_pass(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    setup: DeviceSetup,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    desc: str = "",
) -> PassResult:
    """One epoch over ``loader``: trains when given an ``optimizer``, else evaluates without gradients."""
    training = optimizer is not None
    model.train(training)
    loss_sum = torch.zeros((), device=setup.device)
    targets: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []
    with torch.set_grad_enabled(training):
        for images, labels in progress(loader, desc=desc, leave=False, unit="batch"):
            inputs = to_model_input(images, setup.device, channels_last=setup.channels_last)
            labels = labels.to(setup.device, non_blocking=True)
            with setup.autocast():
                logits = model(inputs)
            loss = loss_fn(logits.float(), labels)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            # Summed on the device: no host sync per batch.
            loss_sum += loss.detach() * len(labels)
            targets.append(labels)
            predictions.append(logits.detach().argmax(dim=1))
    if not targets:  # a rank whose validation slice is empty (fewer images than ranks)
        return PassResult(0.0, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return PassResult(float(loss_sum), torch.cat(targets).cpu().numpy(), torch.cat(predictions).cpu().numpy())


def _gathered_metrics(context: DistContext, result: PassResult) -> dict[str, float]:
    """Metrics over every rank's share of a set (identical on all ranks)."""
    parts = gather(context, result)
    return classification_metrics(
        np.concatenate([p.targets for p in parts]),
        np.concatenate([p.predictions for p in parts]),
        sum(p.loss_sum for p in parts),
    )


def _history_row(epoch: int, train: dict[str, float], val: dict[str, float], lr: float) -> dict[str, float]:
    """One history row: ``epoch``, ``train_*`` and ``val_*`` metrics, ``lr``."""
    return {
        "epoch": epoch,
        **{f"train_{name}": value for name, value in train.items()},
        **{f"val_{name}": value for name, value in val.items()},
        "lr": lr,
    }


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
    val_loader: DataLoader,
    loss_fn: nn.Module,
    config: TrainConfig,
    setup: DeviceSetup,
    context: DistContext,
    on_epoch: EpochCallback,
) -> FitResult:
    """Train ``model`` per ``config``; ``on_epoch`` hears of every epoch.

    Validation runs on the unwrapped model: it needs no gradient sync, and
    ranks may hold different numbers of validation images.
    """
    model.freeze_encoder()
    trainable = _Trainable(model, config, setup, context)
    if config.unfreeze_epoch == 0:
        trainable.unfreeze()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        trainable.optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
    )
    stopper = EarlyStopping(config.early_stopping_patience)
    history: list[dict[str, float]] = []
    best_epoch, best_state = 0, {}
    for epoch in range(1, config.epochs + 1):
        if epoch == config.unfreeze_epoch + 1 and epoch > 1:
            trainable.unfreeze()
            log.info("epoch %d: unfroze the encoder's last %d layer(s)", epoch, config.unfreeze_last_n)
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        started = time.perf_counter()
        lr = trainable.optimizer.param_groups[0]["lr"]
        train = run_pass(trainable.wrapped, train_loader, loss_fn, setup, optimizer=trainable.optimizer, desc=f"epoch {epoch} train")
        val = run_pass(model, val_loader, loss_fn, setup, desc=f"epoch {epoch} val")
        row = _history_row(epoch, _gathered_metrics(context, train), _gathered_metrics(context, val), lr)
        scheduler.step(row["val_loss"])
        history.append(row)
        improved = stopper.update(row["val_f1_macro"])
        if improved:
            best_epoch = epoch
            best_state = {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
        on_epoch(row, improved, time.perf_counter() - started)
        if stopper.should_stop:
            log.info("early stop after epoch %d: no better val F1 macro for %d epochs", epoch, config.early_stopping_patience)
            break
    return FitResult(history, best_epoch, best_state)
