"""Loading: one preprocessing everywhere, a decode-once cache, uint8 batches to [0, 1] floats."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textile_defects.data.images import normalise_file, prepare_image
from textile_defects.data.loading import (
    CachedImageDataset,
    decode_images,
    originals_per_class,
    to_model_input,
)
from textile_defects.data.manifest import write_manifest
from textile_defects.errors import DataError

from tests.helpers.training_data import CLASSES, write_set


def test_prepare_image_is_rgb_uint8_at_the_requested_width_and_height(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.new("L", (128, 72), 200).save(grey)
    pixels = prepare_image(grey, (64, 36))
    assert pixels.shape == (36, 64, 3) and pixels.dtype == np.uint8
    assert (pixels == 200).all()


def test_an_image_already_at_size_is_not_resampled(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (36, 64, 3), dtype=np.uint8)
    Image.fromarray(original).save(tmp_path / "x.png")
    assert np.array_equal(prepare_image(tmp_path / "x.png", (64, 36)), original)


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _exif_rotated_jpeg(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    _noise((120, 80)).save(path, quality=95, exif=exif.tobytes())
    return path


def _sixteen_bit_grey(path: Path) -> Path:
    values = np.random.default_rng(1).integers(0, 65536, (80, 120), dtype=np.uint16)
    Image.fromarray(values).save(path)
    return path


def _transparent(path: Path) -> Path:
    rgba = _noise((120, 80)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((120, 80)))
    rgba.save(path)
    return path


def _palette_with_transparency(path: Path) -> Path:
    _noise((120, 80)).quantize(16).save(path, transparency=3)
    return path


def _cmyk(path: Path) -> Path:
    _noise((120, 80)).convert("CMYK").save(path, quality=95)
    return path


@pytest.mark.parametrize(
    "write", [_exif_rotated_jpeg, _sixteen_bit_grey, _transparent, _palette_with_transparency, _cmyk],
    ids=["exif6", "16-bit", "alpha", "palette", "cmyk"],
)  # fmt: skip
def test_model_input_is_ingests_normal_form_resized(tmp_path: Path, write: Callable[[Path], Path]) -> None:
    # One path: a raw file read for a model gives what ingest would store for it, resized.
    raw = write(tmp_path / ("raw.jpg" if write in (_exif_rotated_jpeg, _cmyk) else "raw.png"))
    normal = Image.open(io.BytesIO(normalise_file(raw).png_bytes))
    for size in ((64, 36), normal.size):
        assert np.array_equal(prepare_image(raw, size), prepare_image(normal, size)), size
    assert np.array_equal(prepare_image(raw, normal.size), np.asarray(normal))


def test_an_unreadable_image_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg"):
        decode_images([broken], (64, 36))


def test_memory_mapped_cache_holds_the_same_pixels_as_the_in_memory_one(tmp_path: Path) -> None:
    manifest = write_set(tmp_path, {"hole": 2, "needle": 1}, copies=2, seed=3)
    in_memory = CachedImageDataset.from_manifest(manifest, CLASSES, (32, 18), memory_limit_mb=64)
    mapped = CachedImageDataset.from_manifest(manifest, CLASSES, (32, 18), memory_limit_mb=0)
    assert isinstance(mapped.images, np.memmap) and not isinstance(in_memory.images, np.memmap)
    assert np.array_equal(np.asarray(mapped.images), in_memory.images)
    # The cache is exactly what the shared preprocessing gives, image by image.
    first = prepare_image(tmp_path / "hole" / "hole-3-0-0.jpg", (32, 18))
    assert np.array_equal(in_memory.images[0], first)
    images, label = mapped[5]
    assert images.shape == (18, 32, 3) and images.dtype == torch.uint8
    assert CLASSES[label] == "needle"


def test_labels_outside_the_classes_are_refused(tmp_path: Path) -> None:
    manifest = write_set(tmp_path, {"hole": 1}, copies=1, seed=3)
    with pytest.raises(DataError, match="not in params 'classes'"):
        CachedImageDataset.from_manifest(manifest, ("non_defect", "needle"), (32, 18))


def test_empty_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows"):
        CachedImageDataset.from_manifest(write_manifest(tmp_path / "manifest.csv", []), CLASSES, (32, 18))


def test_class_counts_are_originals_not_augmented_copies() -> None:
    labels = np.array([1, 1, 1, 1, 0, 3])
    originals = ["h1", "h1", "h1", "h2", "n1", "x1"]
    assert originals_per_class(labels, originals, 5) == [1, 2, 0, 1, 0]


def test_model_input_is_nchw_float_in_unit_range_with_the_same_pixels() -> None:
    batch = torch.randint(0, 256, (2, 18, 32, 3), dtype=torch.uint8)
    for channels_last in (False, True):
        inputs = to_model_input(batch, torch.device("cpu"), channels_last=channels_last)
        assert inputs.shape == (2, 3, 18, 32) and inputs.dtype == torch.float32
        assert inputs.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        assert torch.equal(inputs[1, 2], batch[1, :, :, 2].float() / 255)
