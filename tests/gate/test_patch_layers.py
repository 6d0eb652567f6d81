"""Every registered encoder feeds the gate with the default ``gate.layers: auto``.

Random weights (``weights: none``) so this runs offline: the registry's patch
maps must exist in each architecture, run in its forward pass, and give the
grid and feature width the registry states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from textile_defects.errors import ConfigError
from textile_defects.gate.features import normalise, patch_features
from textile_defects.gate.model import build_extractor
from textile_defects.models.registry import ENCODERS
from tests.helpers.gate import tiny_gate_config

WIDTH, HEIGHT = 192, 112


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_auto_layers_give_the_registry_grid_and_width(encoder: str) -> None:
    spec = ENCODERS[encoder].spec
    config = tiny_gate_config(WIDTH, HEIGHT, encoder)
    assert config.layers == tuple(layer.path for layer in spec.patch_layers)
    strides = sorted(layer.stride for layer in spec.patch_layers)
    assert strides[0] in (4, 8) and strides[-1] == 16, f"{encoder}: the gate wants maps at about stride 8 and 16"

    extractor, (mean, std) = build_extractor(config)
    frame = np.random.default_rng(0).integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    rows, (height, width) = patch_features(extractor, normalise(frame[None], mean, std), centre=True)

    assert rows.shape == (height * width, sum(layer.channels for layer in spec.patch_layers))
    # The coarsest grid: one patch per 16 px, give or take the border cell that
    # unpadded convolutions and ceil-mode pooling add or drop.
    assert abs(height - math.ceil(HEIGHT / 16)) <= 1 and abs(width - math.ceil(WIDTH / 16)) <= 1, (height, width)


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet_lite0"])
def test_a_wrong_layer_name_lists_the_encoders_feature_maps(encoder: str) -> None:
    config = tiny_gate_config(WIDTH, HEIGHT, encoder, layers=["layer9", "features.99"])
    with pytest.raises(ConfigError) as raised:
        build_extractor(config)
    message = str(raised.value)
    assert "layer9" in message and encoder in message
    for path in ENCODERS[encoder].spec.feature_map_paths:
        assert path in message
    assert "gate.layers: auto" in message


def test_layers_must_be_auto_or_a_list_of_paths() -> None:
    with pytest.raises(ConfigError, match=r"gate\.layers.*'auto' or a non-empty list"):
        tiny_gate_config(WIDTH, HEIGHT, "resnet18", layers="layer2")
