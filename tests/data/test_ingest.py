"""Ingest: every rejection, every conversion, duplicates, skip mode, atomicity, the CLI.

Each test builds a tiny raw folder with Pillow in a temporary directory.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from textile_defects.data.images import normalise_file
from textile_defects.data.ingest import REPORT_NAME, IngestConfig, IngestReport, assign_original_ids, ingest
from textile_defects.data.manifest import MANIFEST_NAME, read_manifest, sha256_file
from textile_defects.errors import ConfigError, DataError

from tests.helpers.repo import REPO_ROOT
CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
SIZE = (128, 72)
MIN_WIDTH, MIN_HEIGHT = 64, 36


def noise(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A distinct RGB picture per seed (width x height = ``size``)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def put(raw: Path, relative: str, data: bytes) -> Path:
    path = raw / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def good_folder(raw: Path, per_class: int = 1) -> Path:
    """One distinct PNG per class (``<class>/good_<i>.png``)."""
    for class_index, label in enumerate(CLASSES):
        for i in range(per_class):
            put(raw, f"{label}/good_{i}.png", encoded(noise(100 * class_index + i), "PNG"))
    return raw


def run(raw: Path, out: Path, on_error: str = "stop", **overrides: int) -> IngestReport:
    section = {"raw_dir": str(raw), "min_width": MIN_WIDTH, "min_height": MIN_HEIGHT, "on_error": on_error} | overrides
    return ingest(IngestConfig.from_section(section, CLASSES), out)


def report_of(out: Path) -> dict:
    return json.loads((out / REPORT_NAME).read_text())


def manifest_sources(out: Path) -> set[str]:
    return {row["source_file"] for row in read_manifest(out / MANIFEST_NAME)}


def manifest_row(out: Path, source_file: str) -> dict[str, str]:
    return next(row for row in read_manifest(out / MANIFEST_NAME) if row["source_file"] == source_file)


def truncated_jpeg() -> bytes:
    data = encoded(noise(1), "JPEG", quality=90)
    return data[: len(data) // 2]


def png_without_end() -> bytes:
    # Every pixel row is present; only the IEND chunk is missing, which
    # Image.load() alone accepts.
    return encoded(noise(2), "PNG")[:-12]


def png_with_damaged_data() -> bytes:
    data = bytearray(encoded(noise(3), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    return bytes(data)


# (file written into hole/, its bytes, the report kind, a phrase the message must hold)
BAD_FILES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("hole/empty.jpg", lambda: b"", "empty_file", "0 bytes"),
    ("hole/notes.jpg", lambda: b"shift 3: hole near seam\n", "not_an_image", "not an image"),
    ("hole/page.png", lambda: b"<!DOCTYPE html><html></html>", "not_an_image", "DOCTYPE"),
    ("hole/cut.jpg", truncated_jpeg, "truncated", "truncated"),
    ("hole/cut.png", png_without_end, "truncated", "truncated"),
    ("hole/damaged.png", png_with_damaged_data, "truncated", "corrupt"),
    ("hole/anim.gif", lambda: encoded(noise(4), "GIF"), "unsupported_format", ".gif"),
    ("hole/scan.bmp", lambda: encoded(noise(5), "BMP"), "unsupported_format", ".jpg, .jpeg, .png"),
    ("hole/scan.tiff", lambda: encoded(noise(6), "TIFF"), "unsupported_format", ".tiff"),
    ("hole/renamed.jpg", lambda: encoded(noise(7), "GIF"), "unsupported_format", "GIF file"),
    ("hole/tiny.png", lambda: encoded(noise(8, (40, 30)), "PNG"), "too_small", "40x30"),
]


@pytest.mark.parametrize(("relative", "make", "kind", "phrase"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_each_bad_file_stops_the_run_or_is_skipped_and_reported(tmp_path, relative, make, kind, phrase):
    raw = good_folder(tmp_path / "raw")
    put(raw, relative, make())

    with pytest.raises(DataError) as stopped:
        run(raw, tmp_path / "stopped")
    message = str(stopped.value)
    assert f"{raw / relative}: " in message and phrase in message
    assert not (tmp_path / "stopped").exists()

    run(raw, tmp_path / "skipped", on_error="skip")
    rejected = report_of(tmp_path / "skipped")["rejected"]
    assert [(problem["path"], problem["kind"]) for problem in rejected] == [(relative, kind)]
    assert rejected[0]["action"], "every problem must say what to do"
    assert relative not in manifest_sources(tmp_path / "skipped")
    assert len(manifest_sources(tmp_path / "skipped")) == len(CLASSES)


def test_clean_folder_gives_manifest_normalised_images_and_report(tmp_path):
    raw = good_folder(tmp_path / "raw", per_class=2)
    out = tmp_path / "out"
    run(raw, out)

    rows = read_manifest(out / MANIFEST_NAME)
    assert len(rows) == 2 * len(CLASSES)
    for row in rows:
        image_path = out / row["path"]
        assert row["path"] == f"images/{row['label']}/{row['original_id']}.png"
        assert row["source_file"].startswith(f"{row['label']}/")
        assert sha256_file(image_path) == row["sha256"]
        with Image.open(image_path) as image:
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (int(row["width"]), int(row["height"])))
            with Image.open(raw / row["source_file"]) as source:
                assert np.array_equal(np.asarray(image), np.asarray(source))
    report = report_of(out)
    assert report["accepted"] == {"total": 10, "per_class": {label: 2 for label in CLASSES}}
    assert report["rejected"] == [] and report["warnings"] == []


def test_suffixes_are_matched_in_any_letter_case(tmp_path):
    raw = good_folder(tmp_path / "raw")
    for seed, (name, fmt) in enumerate((("a.JPG", "JPEG"), ("b.Png", "PNG"), ("c.JPEG", "JPEG"), ("d.jpeg", "JPEG"))):
        put(raw, f"needle/{name}", encoded(noise(500 + seed), fmt))
    run(raw, tmp_path / "out")
    assert {"needle/a.JPG", "needle/b.Png", "needle/c.JPEG", "needle/d.jpeg"} <= manifest_sources(tmp_path / "out")


def test_photos_in_subfolders_of_a_class_folder_are_read(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "twoply/batch 2/roll 7.jpg", encoded(noise(900), "JPEG"))
    run(raw, tmp_path / "out")
    assert manifest_row(tmp_path / "out", "twoply/batch 2/roll 7.jpg")["original_id"] == "twoply__batch_2_roll_7"


def test_png_named_jpg_is_read_as_png_with_a_note(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "hole/really_png.jpg", encoded(noise(901), "PNG"))
    run(raw, tmp_path / "out")
    assert "hole/really_png.jpg" in manifest_sources(tmp_path / "out")
    notes = [w for w in report_of(tmp_path / "out")["warnings"] if w["path"] == "hole/really_png.jpg"]
    assert len(notes) == 1 and "PNG file named .jpg" in notes[0]["message"]


# --- conversions: one file through normalise_file, exact pixel values checked ---


def pixels_of(path: Path) -> np.ndarray:
    result = normalise_file(path)
    with Image.open(io.BytesIO(result.png_bytes)) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def test_grayscale_becomes_gray_rgb(tmp_path):
    gray = np.array([[0, 77, 255]], dtype=np.uint8)
    path = put(tmp_path, "g.png", encoded(Image.fromarray(gray), "PNG"))
    assert pixels_of(path).tolist() == [[[0, 0, 0], [77, 77, 77], [255, 255, 255]]]


def test_one_bit_image_becomes_black_and_white(tmp_path):
    path = put(tmp_path, "b.png", encoded(Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).convert("1"), "PNG"))
    assert pixels_of(path).tolist() == [[[0, 0, 0], [255, 255, 255]]]


def test_palette_image_becomes_its_palette_colours(tmp_path):
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([10, 20, 30, 200, 100, 50])
    palette_image.putdata([0, 1])
    path = put(tmp_path, "p.png", encoded(palette_image, "PNG"))
    assert pixels_of(path).tolist() == [[[10, 20, 30], [200, 100, 50]]]


def test_transparent_palette_entry_becomes_white(tmp_path):
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([0, 0, 0, 200, 100, 50])
    palette_image.putdata([0, 1])
    path = put(tmp_path, "pt.png", encoded(palette_image, "PNG", transparency=0))
    assert pixels_of(path).tolist() == [[[255, 255, 255], [200, 100, 50]]]


def test_rgba_is_composited_on_white_with_a_note(tmp_path):
    rgba = np.array([[[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 128]]], dtype=np.uint8)
    path = put(tmp_path, "a.png", encoded(Image.fromarray(rgba), "PNG"))
    out = pixels_of(path)
    assert out[0, 0].tolist() == [255, 255, 255]  # fully transparent black -> white, not black
    assert out[0, 1].tolist() == [255, 0, 0]
    assert np.abs(out[0, 2].astype(int) - [127, 127, 255]).max() <= 1  # half blue over white
    assert any("transparent" in note for note in normalise_file(path).notes)


def test_gray_with_alpha_is_composited_on_white(tmp_path):
    luminance = Image.fromarray(np.array([[50, 50]], dtype=np.uint8))
    la = Image.merge("LA", (luminance, Image.fromarray(np.array([[0, 255]], dtype=np.uint8))))
    path = put(tmp_path, "la.png", encoded(la, "PNG"))
    assert pixels_of(path).tolist() == [[[255, 255, 255], [50, 50, 50]]]


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    path = put(tmp_path, "c.jpg", encoded(cyan, "JPEG", quality=100))
    assert normalise_file(path).source_mode == "CMYK"
    assert np.abs(pixels_of(path).astype(int) - [0, 255, 255]).max() <= 2


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 32896, 65535]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    path = put(tmp_path, "16.png", encoded(image, "PNG"))
    # round(v * 255 / 65535); Pillow's own convert("L") would give 255 for all but 0.
    assert pixels_of(path)[0, :, 0].tolist() == [0, 1, 4, 128, 255]
    assert normalise_file(path).source_mode.startswith("I")


def rotated_photo_jpeg() -> bytes:
    """As stored: 120x80, left half red, right half blue, EXIF orientation 6.

    Orientation 6 means "rotate 90 degrees clockwise to view", so the upright
    picture is 80x120 with red on top and blue below.
    """
    stored = np.zeros((80, 120, 3), dtype=np.uint8)
    stored[:, :60] = (255, 0, 0)
    stored[:, 60:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_is_applied(tmp_path):
    path = put(tmp_path, "r.jpg", rotated_photo_jpeg())
    result = normalise_file(path)
    assert (result.width, result.height, result.exif_orientation) == (80, 120, 6)
    upright = pixels_of(path).astype(int)
    assert np.abs(upright[10:50].mean(axis=(0, 1)) - [255, 0, 0]).max() < 10
    assert np.abs(upright[70:110].mean(axis=(0, 1)) - [0, 0, 255]).max() < 10
    with Image.open(io.BytesIO(result.png_bytes)) as written:
        assert not written.getexif(), "normalised PNGs carry no metadata"


def test_rotated_photo_size_in_manifest_and_report(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "lycra_cut/portrait.jpg", rotated_photo_jpeg())
    # Stored 120 px wide, 80 px once upright: the size check must see the upright size.
    with pytest.raises(DataError, match=r"portrait\.jpg: is 80x120 px, below the minimum 100x72"):
        run(raw, tmp_path / "rejected", min_width=100, min_height=72)
    run(raw, tmp_path / "out")
    row = manifest_row(tmp_path / "out", "lycra_cut/portrait.jpg")
    assert (row["width"], row["height"]) == ("80", "120")
    converted = report_of(tmp_path / "out")["converted"]
    assert {"source_file": "lycra_cut/portrait.jpg", "source": "JPEG RGB", "exif_orientation": 6} in converted


def test_metadata_is_dropped_so_equal_pixels_give_equal_bytes(tmp_path):
    picture = noise(60)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plain = normalise_file(put(tmp_path, "plain.png", encoded(picture, "PNG")))
    tagged = normalise_file(put(tmp_path, "tagged.png", encoded(picture, "PNG", icc_profile=srgb, dpi=(300, 300))))
    assert tagged.png_bytes == plain.png_bytes
    with Image.open(io.BytesIO(tagged.png_bytes)) as written:
        assert "icc_profile" not in written.info and "dpi" not in written.info


# --- decoding must not be fooled ---


def test_truncation_is_caught_even_if_pillow_was_told_to_tolerate_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    raw = good_folder(tmp_path / "raw")
    put(raw, "hole/cut.jpg", truncated_jpeg())
    with pytest.raises(DataError, match="truncated"):
        run(raw, tmp_path / "out")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True, "the caller's setting is restored"


@pytest.mark.parametrize("limit_pixels", [5000, 2000], ids=["bomb-warning", "bomb-error"])
def test_decompression_bomb_is_an_error_with_a_clear_message(tmp_path, monkeypatch, limit_pixels):
    # 128x72 = 9216 px: above the limit (Pillow warns) or twice above it (Pillow raises).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit_pixels)
    raw = good_folder(tmp_path / "raw")
    with pytest.raises(DataError, match="too large to decode safely"):
        run(raw, tmp_path / "out")


def test_broken_symlink_is_reported_as_unreadable(tmp_path):
    raw = good_folder(tmp_path / "raw")
    (raw / "hole" / "moved.jpg").symlink_to(tmp_path / "network-share" / "moved.jpg")
    with pytest.raises(DataError, match=r"moved\.jpg: cannot be read \(No such file or directory\)"):
        run(raw, tmp_path / "out")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_reported(tmp_path):
    raw = good_folder(tmp_path / "raw")
    locked = put(raw, "hole/locked.jpg", encoded(noise(9), "JPEG"))
    locked.chmod(0)
    try:
        with pytest.raises(DataError, match=r"locked\.jpg: cannot be read"):
            run(raw, tmp_path / "out")
    finally:
        locked.chmod(0o644)


# --- folder-level findings ---


def test_unknown_class_folder_names_the_known_classes_and_a_likely_match(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "Holes/x.jpg", encoded(noise(10), "JPEG"))
    with pytest.raises(DataError) as stopped:
        run(raw, tmp_path / "out")
    message = str(stopped.value)
    assert f"{raw / 'Holes'}: is not a class folder" in message
    assert ", ".join(CLASSES) in message and "'hole'" in message


def test_image_outside_class_folders_is_an_error_and_other_loose_files_a_warning(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "stray.jpg", encoded(noise(11), "JPEG"))
    put(raw, "README.txt", b"photos from line 3")
    run(raw, tmp_path / "out", on_error="skip")
    report = report_of(tmp_path / "out")
    assert [(p["path"], p["kind"]) for p in report["rejected"]] == [("stray.jpg", "outside_class_folder")]
    assert [(p["path"], p["kind"]) for p in report["warnings"]] == [("README.txt", "outside_class_folder")]


def test_hidden_and_system_files_are_ignored(tmp_path, caplog):
    raw = good_folder(tmp_path / "raw")
    put(raw, ".DS_Store", b"\0\0\0\1Bud1")
    put(raw, "hole/._good_0.png", b"\0\5\26\7 AppleDouble")
    put(raw, "hole/Thumbs.db", b"thumbs")
    put(raw, "needle/@eaDir/good_0.png/SYNOPHOTO_THUMB_S.jpg", encoded(noise(12), "JPEG"))
    caplog.set_level("DEBUG", logger="textile_defects.data.ingest")
    run(raw, tmp_path / "out")
    report = report_of(tmp_path / "out")
    assert report["ignored"] == [".DS_Store", "hole/._good_0.png", "hole/Thumbs.db", "needle/@eaDir"]
    assert report["rejected"] == [] and len(manifest_sources(tmp_path / "out")) == len(CLASSES)
    assert any("._good_0.png" in record.getMessage() for record in caplog.records if record.levelname == "DEBUG")


def test_missing_raw_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"ingest.raw_dir.*no such folder.*-S ingest.raw_dir="):
        run(tmp_path / "nowhere", tmp_path / "out")


SECTION = {"raw_dir": "photos", "min_width": MIN_WIDTH, "min_height": MIN_HEIGHT, "on_error": "stop"}


def test_the_section_is_read_into_a_frozen_config() -> None:
    config = IngestConfig.from_section(SECTION, list(CLASSES))
    assert config == IngestConfig("photos", CLASSES, MIN_WIDTH, MIN_HEIGHT, "stop")
    with pytest.raises(AttributeError):
        config.on_error = "skip"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("on_error", "ignore", "ingest.on_error: got 'ignore'; expected one of ['stop', 'skip']"),
        ("min_width", 0, "ingest.min_width: got 0; expected an integer >= 1"),
        ("min_height", "224", "ingest.min_height: got '224'; expected an integer >= 1"),
        ("min_height", 224.5, "ingest.min_height: got 224.5; expected an integer >= 1"),
        ("raw_dir", "", "ingest.raw_dir: got ''; expected a non-empty string"),
    ],
)
def test_bad_settings_name_the_params_key(setting, value, message):
    with pytest.raises(ConfigError) as excinfo:
        IngestConfig.from_section(SECTION | {setting: value}, CLASSES)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("classes", ["hole", [], ["hole", "hole"], ["hole", "a/b"], ["hole", ".."], ["hole", 3]])
def test_classes_that_cannot_be_folder_names_are_refused(classes):
    with pytest.raises(ConfigError, match=r"classes: got .*; expected a list of distinct folder names"):
        IngestConfig.from_section(SECTION, classes)


def test_every_problem_of_the_section_is_reported_at_once():
    section = {"min_width": 2.5, "min_height": 224, "on_error": "skip", "min_size": 3}
    with pytest.raises(ConfigError) as excinfo:
        IngestConfig.from_section(section, ["hole", "hole"])
    message = str(excinfo.value)
    assert "4 problem(s)" in message
    for expected in (
        "ingest.raw_dir: missing",
        "ingest.min_width: got 2.5",
        "ingest.min_size: unknown key",
        "classes: got ['hole', 'hole']",
    ):
        assert expected in message


def test_class_without_usable_photos_stops_even_in_skip_mode(tmp_path):
    raw = good_folder(tmp_path / "raw")
    (raw / "twoply" / "good_0.png").unlink()  # folder now empty
    for path in (raw / "needle").iterdir():
        path.unlink()
    put(raw, "needle/broken.jpg", truncated_jpeg())  # only a bad file left
    (raw / "lycra_cut" / "good_0.png").unlink()
    (raw / "lycra_cut").rmdir()  # no folder at all
    with pytest.raises(DataError) as stopped:
        run(raw, tmp_path / "out", on_error="skip")
    message = str(stopped.value)
    assert "class 'twoply' holds no photos" in message
    assert "class 'needle' has no usable photo" in message and "needle/broken.jpg" in message
    assert "class 'lycra_cut' has no folder" in message
    assert "remove it from `classes`" in message
    assert not (tmp_path / "out").exists()


# --- duplicates ---


def test_exact_duplicate_in_one_class_is_removed_with_a_warning(tmp_path, caplog):
    raw = good_folder(tmp_path / "raw")
    original = encoded(noise(20), "PNG")
    put(raw, "needle/roll_3.png", original)
    put(raw, "needle/roll_3 (1).png", original)
    put(raw, "needle/roll_3 copy.png", original)
    run(raw, tmp_path / "out")
    sources = manifest_sources(tmp_path / "out")
    assert "needle/roll_3.png" in sources, "the shortest name is kept"
    assert not {"needle/roll_3 (1).png", "needle/roll_3 copy.png"} & sources
    removed = [w for w in report_of(tmp_path / "out")["warnings"] if w["kind"] == "duplicate_removed"]
    assert [w["path"] for w in removed] == ["needle/roll_3 (1).png", "needle/roll_3 copy.png"]
    assert all("needle/roll_3.png" in w["message"] for w in removed)
    assert sum("duplicate" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 2
    assert len(list((tmp_path / "out" / "images" / "needle").iterdir())) == 2


def test_same_pixels_under_two_classes_is_an_error(tmp_path):
    raw = good_folder(tmp_path / "raw")
    picture = noise(30)
    # Different bytes (compression level, file format), identical pixels.
    put(raw, "hole/shared.png", encoded(picture, "PNG", compress_level=1))
    put(raw, "needle/shared_too.png", encoded(picture, "PNG", compress_level=9))
    with pytest.raises(DataError) as stopped:
        run(raw, tmp_path / "stopped")
    message = str(stopped.value)
    assert f"{raw / 'hole/shared.png'}: is the same picture as needle/shared_too.png" in message
    assert f"{raw / 'needle/shared_too.png'}: is the same picture as hole/shared.png" in message

    run(raw, tmp_path / "skipped", on_error="skip")
    assert not {"hole/shared.png", "needle/shared_too.png"} & manifest_sources(tmp_path / "skipped")


# --- ids ---


def test_original_ids_are_safe_unique_and_stable():
    files = ["hole/a.jpg", "hole/a.png", "hole/A.PNG", "hole/sub dir/é x.jpg", "hole/织物.png", "hole/b.jpg"]
    ids = assign_original_ids("hole", files)
    assert len({value.casefold() for value in ids.values()}) == len(files)
    assert all(re.fullmatch(r"hole__[A-Za-z0-9._-]+", value) for value in ids.values())
    assert ids["hole/b.jpg"] == "hole__b" and ids["hole/sub dir/é x.jpg"] == "hole__sub_dir_e_x"
    assert ids == assign_original_ids("hole", list(reversed(files))), "independent of listing order"
    assert assign_original_ids("hole", files + ["hole/c.jpg"])["hole/a.jpg"] == ids["hole/a.jpg"]
    # On a case-insensitive file system (macOS, Windows) A.png and a.jpg would overwrite each other.
    assert len({value.casefold() for value in assign_original_ids("hole", ["hole/A.png", "hole/a.jpg"]).values()}) == 2


# --- whole-run properties ---


def messy_folder(raw: Path) -> dict[str, str]:
    """A real-world mess: every problem at once. Returns {bad path: expected kind}."""
    good_folder(raw, per_class=2)
    put(raw, "non_defect/IMG_0001.JPG", rotated_photo_jpeg())
    put(raw, "non_defect/gray.Png", encoded(noise(40).convert("L"), "PNG"))
    put(raw, "non_defect/cmyk.jpeg", encoded(noise(41).convert("CMYK"), "JPEG"))
    put(raw, "non_defect/depth16.png", encoded(Image.fromarray(np.full(SIZE[::-1], 40000, np.uint16)), "PNG"))
    put(raw, "hole/good_0 copy.png", (raw / "hole/good_0.png").read_bytes())
    put(raw, ".DS_Store", b"\0")
    put(raw, "hole/._good_1.png", b"\0")
    bad = {
        "hole/empty.jpg": "empty_file",
        "hole/notes.jpg": "not_an_image",
        "hole/cut.jpg": "truncated",
        "needle/scan.bmp": "unsupported_format",
        "needle/anim.gif": "unsupported_format",
        "twoply/thumb.png": "too_small",
        "Lycra cut": "unknown_class_folder",
        "loose.jpg": "outside_class_folder",
        "lycra_cut/same.png": "cross_class_duplicate",
        "twoply/same.png": "cross_class_duplicate",
    }
    put(raw, "hole/empty.jpg", b"")
    put(raw, "hole/notes.jpg", b"defect log\n")
    put(raw, "hole/cut.jpg", truncated_jpeg())
    put(raw, "needle/scan.bmp", encoded(noise(42), "BMP"))
    put(raw, "needle/anim.gif", encoded(noise(43), "GIF"))
    put(raw, "twoply/thumb.png", encoded(noise(44, (32, 18)), "PNG"))
    put(raw, "Lycra cut/lc_1.jpg", encoded(noise(45), "JPEG"))
    put(raw, "loose.jpg", encoded(noise(46), "JPEG"))
    put(raw, "lycra_cut/same.png", encoded(noise(47), "PNG"))
    put(raw, "twoply/same.png", encoded(noise(47), "PNG"))
    return bad


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry under ``root``: (contents for files, modification time in ns)."""
    entries = {".": (None, root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        contents = path.read_bytes() if path.is_file() else None
        entries[path.relative_to(root).as_posix()] = (contents, path.stat().st_mtime_ns)
    return entries


def test_messy_folder_gives_one_report_listing_every_problem_and_losing_nothing(tmp_path):
    raw = tmp_path / "raw"
    bad = messy_folder(raw)

    with pytest.raises(DataError) as stopped:
        run(raw, tmp_path / "stopped")
    listed = [line for line in str(stopped.value).splitlines() if line.startswith("  - ")]
    assert len(listed) == len(bad)
    for path in bad:
        assert any(line.startswith(f"  - {raw / path}: ") for line in listed), path

    out = tmp_path / "out"
    run(raw, out, on_error="skip")
    report = report_of(out)
    assert {p["path"]: p["kind"] for p in report["rejected"]} == bad
    # Every file in the raw tree is accounted for exactly once.
    accounted = (
        sorted(manifest_sources(out))
        + [p["path"] for p in report["rejected"]]
        + [p["path"] for p in report["warnings"] if p["kind"] == "duplicate_removed"]
        + report["ignored"]
    )
    assert len(accounted) == len(set(accounted))
    for path in (p for p in raw.rglob("*") if p.is_file()):
        relative = path.relative_to(raw).as_posix()
        assert relative in accounted or relative.split("/")[0] in accounted, relative
    assert report["accepted"]["per_class"] == {"non_defect": 6, "hole": 2, "lycra_cut": 2, "needle": 2, "twoply": 2}
    converted = {item["source_file"]: item["source"] for item in report["converted"]}
    assert converted == {
        "non_defect/IMG_0001.JPG": "JPEG RGB",
        "non_defect/cmyk.jpeg": "JPEG CMYK",
        "non_defect/depth16.png": "PNG I;16",
        "non_defect/gray.Png": "PNG L",
    }


def test_source_folder_is_never_written(tmp_path):
    raw = tmp_path / "raw"
    messy_folder(raw)
    before = snapshot(raw)
    run(raw, tmp_path / "out", on_error="skip")
    with pytest.raises(DataError):
        run(raw, tmp_path / "out2")
    assert snapshot(raw) == before


def test_output_is_byte_identical_across_runs(tmp_path):
    raw = tmp_path / "raw"
    messy_folder(raw)
    run(raw, tmp_path / "first", on_error="skip")
    run(raw, tmp_path / "second", on_error="skip")
    first, second = snapshot(tmp_path / "first"), snapshot(tmp_path / "second")
    assert sorted(first) == sorted(second)
    assert all(first[name][0] == second[name][0] for name in first)


def test_failed_run_leaves_previous_output_untouched(tmp_path):
    raw = good_folder(tmp_path / "raw")
    out = tmp_path / "out"
    run(raw, out)
    before = snapshot(out)
    put(raw, "hole/cut.jpg", truncated_jpeg())
    with pytest.raises(DataError):
        run(raw, out)
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out", "raw"], "no staging folder left behind"


# --- the stage script ---


def stage(tmp_path: Path, raw: Path, out: Path) -> subprocess.CompletedProcess[str]:
    params = tmp_path / "params.yaml"
    # raw_dir in params names no folder: --raw-dir (what dvc.yaml passes) must win.
    params.write_text(
        f"classes: [{', '.join(CLASSES)}]\n"
        "ingest:\n  raw_dir: no/such/folder\n"
        f"  min_width: {MIN_WIDTH}\n  min_height: {MIN_HEIGHT}\n  on_error: stop\n"
    )
    script = REPO_ROOT / "stages" / "ingest.py"
    command = [sys.executable, str(script), "--params", str(params), "--raw-dir", str(raw), "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, env=os.environ | {"TQDM_DISABLE": "1"}, timeout=120)


def test_stage_exits_2_with_the_problems_on_stderr_and_writes_nothing(tmp_path):
    raw = good_folder(tmp_path / "raw")
    put(raw, "hole/notes.jpg", b"not a photo")
    put(raw, "needle/scan.bmp", encoded(noise(50), "BMP"))
    out = tmp_path / "data" / "ingested"
    result = stage(tmp_path, raw, out)
    assert result.returncode == 2
    assert "notes.jpg: is not an image file" in result.stderr
    assert "scan.bmp: has unsupported file type .bmp" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_stage_writes_manifest_images_and_report(tmp_path):
    raw = good_folder(tmp_path / "raw")
    out = tmp_path / "out"
    result = stage(tmp_path, raw, out)
    assert result.returncode == 0, result.stderr
    assert "ingested 5 photo(s)" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["images", MANIFEST_NAME, REPORT_NAME]
