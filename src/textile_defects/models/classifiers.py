"""Classifiers on pooled encoder features: (N, feature_dim) -> (N, num_classes) logits.

Both share a trunk of fully connected layers (Linear -> BatchNorm -> ReLU ->
Dropout per hidden width; the report's 256 and 128 units) and differ in the
last layer:

- ``mlp`` (baseline): an ordinary Linear layer.
- ``cosine`` (post-baseline): logits = scale * cos(feature, class weight),
  with features and weight rows L2-normalised, so a logit depends on the
  direction of the features only and is bounded by ``scale``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from textile_defects.errors import ConfigError

CLASSIFIERS = ("mlp", "cosine")


class CosineLinear(nn.Module):
    """Scale-invariant last layer: (N, D) -> (N, C) logits in [-scale, scale].

    The scale is fixed by default. A learnable one can only lower the training
    loss by growing once the training samples are separated, which makes the
    model overconfident without separating the classes better; a fixed one keeps logits bounded and the
    loss comparable between runs. ``learnable_scale=True`` learns log(scale).
    """

    def __init__(self, in_features: int, num_classes: int, scale: float, learnable_scale: bool = False) -> None:
        super().__init__()
        if scale <= 0:
            raise ConfigError(f"cosine_scale: must be positive, got {scale}.")
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        log_scale = torch.tensor(math.log(scale))
        if learnable_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def scale(self) -> torch.Tensor:
        """The current scale, a 0-d tensor."""
        return self.log_scale.exp()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, D) features -> (N, C) scaled cosine similarities, computed in float32."""
        # Outside autocast: bf16 keeps ~3 digits, too few for the small angle
        # differences between classes once multiplied by the scale.
        with torch.autocast(device_type=features.device.type, enabled=False):
            cosine = F.linear(F.normalize(features.float(), dim=1), F.normalize(self.weight.float(), dim=1))
            return self.scale * cosine


class Classifier(nn.Module):
    """Fully connected trunk then a Linear or cosine last layer: (N, D) -> (N, C)."""

    def __init__(self, trunk: nn.Sequential, last: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.last = last

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, feature_dim) pooled features -> (N, num_classes) logits."""
        return self.last(self.trunk(features))


def _trunk(in_features: int, hidden_units: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = in_features
    for units in hidden_units:
        # No bias: the BatchNorm that follows has its own shift.
        layers += [nn.Linear(width, units, bias=False), nn.BatchNorm1d(units), nn.ReLU(), nn.Dropout(dropout)]
        width = units
    return nn.Sequential(*layers), width


def build_classifier(
    kind: str,
    in_features: int,
    num_classes: int,
    *,
    hidden_units: Sequence[int],
    dropout: float,
    cosine_scale: float,
    cosine_learnable_scale: bool = False,
) -> Classifier:
    """The classifier named ``kind`` ("mlp" or "cosine"); validates the sizes it is given."""
    if kind not in CLASSIFIERS:
        raise ConfigError(f"classifier: unknown classifier {kind!r}; choose one of {', '.join(CLASSIFIERS)}.")
    if any(int(units) < 1 for units in hidden_units):
        raise ConfigError(f"hidden_units: every width must be at least 1, got {list(hidden_units)}.")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout: must be in [0, 1), got {dropout}.")
    trunk, width = _trunk(in_features, [int(units) for units in hidden_units], dropout)
    if kind == "mlp":
        last: nn.Module = nn.Linear(width, num_classes)
    else:
        last = CosineLinear(width, num_classes, cosine_scale, cosine_learnable_scale)
    return Classifier(trunk, last)
