"""A training params section, validated once at the boundary into a typed config.

Every key is required and unknown keys are rejected, so a typo in
``params.yaml`` (or in a ``dvc exp run -S`` override) fails before any work,
with every problem listed at once, each naming its key path
(``train_baseline.lr_head``), the value and what is accepted. The section is
flat: the model's keys (:data:`~textile_defects.models.config.MODEL_KEYS`)
sit beside the training keys, so ``-S train_baseline.input_size=224`` works,
and are read into :class:`~textile_defects.models.config.ModelConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from textile_defects.models.config import ModelConfig
from textile_defects.training.balance import COMBINES, WEIGHTINGS
from textile_defects.training.losses import LOSSES
from textile_defects.utils.params import DEVICES, SectionReader

AMP_MODES = ("auto", "bf16", "off")
SELECTIONS = ("best_val", "last")
"""How the kept model is chosen: see :attr:`TrainConfig.selection`."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One variant's training settings (a ``train_*`` section of params.yaml)."""

    seed: int
    model: ModelConfig
    """The architecture and the pixels it reads (the section's model keys plus the top-level encoder)."""
    batch_size: int
    epochs: int
    unfreeze_epoch: int
    """Epochs trained with the encoder frozen; its last layers unfreeze after them."""
    unfreeze_last_n: int
    lr_head: float
    lr_encoder: float
    weight_decay: float
    """Adam's L2 penalty, on every trained parameter."""
    plateau_factor: float
    plateau_patience: int
    early_stopping_patience: int | None
    """Epochs after ``unfreeze_epoch`` without a better validation F1 macro before stopping; None = never
    stop early. Epochs with the encoder frozen never count. Unused with ``selection: last``."""
    selection: Literal["best_val", "last"]
    """``best_val``: keep the epoch with the best validation F1 macro; ReduceLROnPlateau watches the
    validation loss, early stopping the validation F1 macro. ``last``: a fixed schedule chosen in
    advance (cross-validation): keep the last epoch, no early stopping, the plateau schedule watches
    the training loss, and no validation set is needed (one given is scored for the history only)."""
    loss: Literal["ce", "focal"]
    loss_weighting: Literal["none", "inverse_frequency", "effective_number"]
    sampler: Literal["none", "inverse_frequency", "effective_number"]
    balance_combine: Literal["half_each", "full_each"]
    """With both a weighted sampler and a weighted loss: each applies half of the class correction
    (``half_each``) or all of it (``full_each``, the report's); see :mod:`~textile_defects.training.balance`."""
    cb_beta: float
    focal_gamma: float
    num_workers: int
    device: Literal["auto", "cpu", "cuda"]
    amp: Literal["auto", "bf16", "off"]
    cache_memory_mb: int
    """Largest decoded-image cache kept in RAM; above it the cache is memory-mapped."""
    cache_frozen_features: bool
    """While nothing before the classifier trains (encoder frozen, resize head), compute each image's
    features once and train the classifier on them: the same batches and updates, a frozen epoch
    costs almost nothing (see :mod:`~textile_defects.training.frozen_features`)."""
    tracking: bool
    """Log runs to MLflow."""

    @classmethod
    def from_section(cls, values: Mapping[str, Any], name: str, encoder: str) -> TrainConfig:
        """Validate params section ``name`` (with the top-level ``encoder``); all problems in one ConfigError."""
        reader = SectionReader(values, name)
        config = cls(
            seed=reader.integer("seed", minimum=0),
            model=ModelConfig.read(reader, encoder),
            batch_size=reader.integer("batch_size", minimum=2),
            epochs=reader.integer("epochs", minimum=1),
            unfreeze_epoch=reader.integer("unfreeze_epoch", minimum=0),
            unfreeze_last_n=reader.integer("unfreeze_last_n", minimum=0),
            lr_head=reader.number("lr_head", above=0),
            lr_encoder=reader.number("lr_encoder", above=0),
            weight_decay=reader.number("weight_decay", minimum=0),
            plateau_factor=reader.number("plateau_factor", above=0, below=1),
            plateau_patience=reader.integer("plateau_patience", minimum=0),
            early_stopping_patience=reader.integer("early_stopping_patience", minimum=1, optional=True),
            selection=reader.choice("selection", SELECTIONS),
            loss=reader.choice("loss", LOSSES),
            loss_weighting=reader.choice("loss_weighting", WEIGHTINGS),
            sampler=reader.choice("sampler", WEIGHTINGS),
            balance_combine=reader.choice("balance_combine", COMBINES),
            cb_beta=reader.number("cb_beta", minimum=0, below=1),
            focal_gamma=reader.number("focal_gamma", minimum=0),
            num_workers=reader.integer("num_workers", minimum=0),
            device=reader.choice("device", DEVICES),
            amp=reader.choice("amp", AMP_MODES),
            cache_memory_mb=reader.integer("cache_memory_mb", minimum=0),
            cache_frozen_features=reader.boolean("cache_frozen_features"),
            tracking=reader.boolean("tracking"),
        )
        reader.finish()
        return config

    @property
    def needs_validation(self) -> bool:
        """Whether training needs a validation set (it picks the kept epoch and the schedule)."""
        return self.selection == "best_val"

    def as_params(self) -> dict[str, Any]:
        """The section as plain values (lists, not tuples), flat like params.yaml, for checkpoints and MLflow."""
        values = dataclasses.asdict(self)
        model = values.pop("model")
        del model["encoder"]  # a top-level param, recorded beside the section
        merged = {**values, **model}
        return {key: list(value) if isinstance(value, tuple) else value for key, value in merged.items()}
