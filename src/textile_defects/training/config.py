"""A training params section, validated once at the boundary into a typed config.

Every key is required and unknown keys are rejected, so a typo in
``params.yaml`` (or in a ``dvc exp run -S`` override) fails before any work
with a message naming the section, the key, the value and what is accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from textile_defects.errors import ConfigError
from textile_defects.models.classifiers import CLASSIFIERS
from textile_defects.models.head import HEADS
from textile_defects.training.losses import LOSSES, WEIGHTINGS

DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("auto", "bf16", "off")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One variant's training settings (a ``train_*`` section of params.yaml)."""

    seed: int
    image_size: tuple[int, int]
    """(W, H) pixels the model reads; stored images are resized to it once, when cached."""
    input_size: int | None
    """Square side the head resizes to for the encoder; None = the encoder's own."""
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
    """Epochs without a better validation F1 macro before stopping; None = never stop early."""
    head: Literal["learned", "resize"]
    classifier: Literal["mlp", "cosine"]
    hidden_units: tuple[int, ...]
    dropout: float
    head_dropout: float
    cosine_scale: float
    loss: Literal["ce", "focal"]
    loss_weighting: Literal["none", "inverse_frequency", "effective_number"]
    sampler: Literal["none", "inverse_frequency", "effective_number"]
    cb_beta: float
    focal_gamma: float
    num_workers: int
    device: Literal["auto", "cpu", "cuda"]
    amp: Literal["auto", "bf16", "off"]
    cache_memory_mb: int
    """Largest decoded-image cache kept in RAM; above it the cache is memory-mapped."""
    tracking: bool
    """Log runs to MLflow."""

    @classmethod
    def from_section(cls, values: Mapping[str, Any], name: str) -> TrainConfig:
        """Validate params section ``name``; any problem is a :class:`ConfigError`."""
        check = _Checker(values, name)
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        missing = sorted(fields - set(values))
        if unknown or missing:
            raise ConfigError(
                f"params.yaml [{name}]: unknown key(s) {unknown}, missing key(s) {missing}; "
                f"a training section has exactly {sorted(fields)}."
            )
        return cls(
            seed=check.integer("seed", minimum=0),
            image_size=check.image_size("image_size"),
            input_size=check.integer("input_size", minimum=16, optional=True),
            batch_size=check.integer("batch_size", minimum=2),
            epochs=check.integer("epochs", minimum=1),
            unfreeze_epoch=check.integer("unfreeze_epoch", minimum=0),
            unfreeze_last_n=check.integer("unfreeze_last_n", minimum=0),
            lr_head=check.number("lr_head", above=0),
            lr_encoder=check.number("lr_encoder", above=0),
            weight_decay=check.number("weight_decay", minimum=0),
            plateau_factor=check.number("plateau_factor", above=0, below=1),
            plateau_patience=check.integer("plateau_patience", minimum=0),
            early_stopping_patience=check.integer("early_stopping_patience", minimum=1, optional=True),
            head=check.choice("head", HEADS),
            classifier=check.choice("classifier", CLASSIFIERS),
            hidden_units=check.units("hidden_units"),
            dropout=check.number("dropout", minimum=0, below=1),
            head_dropout=check.number("head_dropout", minimum=0, below=1),
            cosine_scale=check.number("cosine_scale", above=0),
            loss=check.choice("loss", LOSSES),
            loss_weighting=check.choice("loss_weighting", WEIGHTINGS),
            sampler=check.choice("sampler", WEIGHTINGS),
            cb_beta=check.number("cb_beta", minimum=0, below=1),
            focal_gamma=check.number("focal_gamma", minimum=0),
            num_workers=check.integer("num_workers", minimum=0),
            device=check.choice("device", DEVICES),
            amp=check.choice("amp", AMP_MODES),
            cache_memory_mb=check.integer("cache_memory_mb", minimum=0),
            tracking=check.boolean("tracking"),
        )

    def as_params(self) -> dict[str, Any]:
        """Plain values (lists, not tuples) for checkpoints and MLflow."""
        values = dataclasses.asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


class _Checker:
    """Type and range checks that name the section and key in their errors."""

    def __init__(self, values: Mapping[str, Any], section: str) -> None:
        self.values = values
        self.section = section

    def fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"params.yaml [{self.section}] {key}: got {self.values[key]!r}; expected {expected}.")

    def integer(self, key: str, *, minimum: int, optional: bool = False) -> Any:
        value = self.values[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer >= {minimum}" + (" or null" if optional else ""))
        return value

    def number(self, key: str, *, minimum: float | None = None, above: float | None = None, below: float | None = None) -> float:
        value = self.values[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        ok = ok and (below is None or value < below)
        if not ok:
            limits = ((minimum, ">="), (above, ">"), (below, "<"))
            raise self.fail(key, "a number " + " and ".join(f"{op} {limit}" for limit, op in limits if limit is not None))
        return float(value)

    def choice(self, key: str, options: tuple[str, ...]) -> Any:
        if self.values[key] not in options:
            raise self.fail(key, f"one of {list(options)}")
        return self.values[key]

    def boolean(self, key: str) -> bool:
        if not isinstance(self.values[key], bool):
            raise self.fail(key, "true or false")
        return self.values[key]

    def image_size(self, key: str) -> tuple[int, int]:
        value = self.values[key]
        valid = isinstance(value, list | tuple) and len(value) == 2
        if not (valid and all(isinstance(v, int) and not isinstance(v, bool) and v >= 16 for v in value)):
            raise self.fail(key, "[width, height] in pixels, each an integer >= 16")
        return int(value[0]), int(value[1])

    def units(self, key: str) -> tuple[int, ...]:
        value = self.values[key]
        if not (isinstance(value, list | tuple) and value and all(isinstance(v, int) and v > 0 for v in value)):
            raise self.fail(key, "a non-empty list of positive integers (fully connected layer widths)")
        return tuple(value)
