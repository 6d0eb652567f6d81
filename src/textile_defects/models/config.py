"""ModelConfig: the one description of an architecture and the pixels it reads.

Training builds its model from it, the checkpoint stores it once (beside the
classes, the good class and the preprocessing), and evaluation and predict
rebuild the model from the stored copy. Nothing else describes a model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from textile_defects.models.classifiers import CLASSIFIERS
from textile_defects.models.head import HEADS
from textile_defects.models.registry import ENCODERS
from textile_defects.utils.params import SectionReader

# The training-section keys that describe the model (params.yaml keeps them flat
# inside each train_* section, so `-S train_baseline.input_size=224` still works).
MODEL_KEYS: tuple[str, ...] = (
    "image_size",
    "input_size",
    "head",
    "classifier",
    "hidden_units",
    "dropout",
    "head_dropout",
    "cosine_scale",
)


def read_size(reader: SectionReader, key: str, *, minimum: int, optional: bool = False) -> tuple[int, int] | None:
    """``key``: one side (a square) or ``[W, H]``, each >= ``minimum``, as (W, H); null only when ``optional``.

    A problem is recorded on ``reader`` (reported with every other), not raised.
    """
    value = reader.raw(key)
    if value is None and optional:
        return None

    def is_side(side: Any) -> bool:
        return isinstance(side, int) and not isinstance(side, bool) and side >= minimum

    if is_side(value):
        return (value, value)
    if isinstance(value, list | tuple) and len(value) == 2 and all(is_side(side) for side in value):
        return (value[0], value[1])
    expected = f"[width, height] in pixels or one integer (a square), each >= {minimum}"
    reader.problem(key, value, expected + (", or null" if optional else ""))
    return None


MIN_SIDE = 16
"""Smallest input side a params file may name (the encoder may ask for more)."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and input of one classifier."""

    encoder: str
    """Registry name of the ImageNet encoder (``textile_defects.models.registry.ENCODERS``)."""
    image_size: tuple[int, int]
    """(W, H) pixels the model reads: every file is prepared to this size first."""
    input_size: tuple[int, int] | None
    """(W, H) the head resizes to for the encoder; None = the encoder's own square.

    params.yaml takes ``[W, H]`` (e.g. [320, 180], the frame's 16:9) or one
    integer for a square (e.g. 224; older checkpoints store one)."""
    head: str
    """learned | resize."""
    classifier: str
    """mlp | cosine."""
    hidden_units: tuple[int, ...]
    dropout: float
    head_dropout: float
    cosine_scale: float

    def __post_init__(self) -> None:
        # One spelling of a size: (W, H), whether built from params, a checkpoint or code.
        if isinstance(self.input_size, int):
            object.__setattr__(self, "input_size", (self.input_size, self.input_size))
        elif self.input_size is not None:
            object.__setattr__(self, "input_size", tuple(int(side) for side in self.input_size))

    @classmethod
    def read(cls, reader: SectionReader, encoder: str) -> ModelConfig:
        """The model keys of a training section (reported through ``reader``, like every other key)."""
        if encoder not in ENCODERS:
            reader.problems.append(f"encoder: got {encoder!r}; expected one of {sorted(ENCODERS)}")
        return cls(
            encoder=encoder,
            image_size=reader.int_pair("image_size", minimum=16),
            input_size=read_size(reader, "input_size", minimum=MIN_SIDE, optional=True),
            head=reader.choice("head", HEADS),
            classifier=reader.choice("classifier", CLASSIFIERS),
            hidden_units=reader.int_list("hidden_units", minimum=1),
            dropout=reader.number("dropout", minimum=0, below=1),
            head_dropout=reader.number("head_dropout", minimum=0, below=1),
            cosine_scale=reader.number("cosine_scale", above=0),
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "model") -> ModelConfig:
        """Rebuild from :meth:`as_dict` output (e.g. a checkpoint's copy); problems are one ConfigError."""
        reader = SectionReader(values, where)
        config = cls.read(reader, str(reader.raw("encoder")))
        reader.finish()
        return config

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, not tuples), for checkpoints and MLflow."""
        values = dataclasses.asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}
