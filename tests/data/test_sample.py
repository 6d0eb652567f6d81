"""The built-in sample generator: determinism, layout, masks, honest difficulty, the stage CLI."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from textile_defects.data.sample import (
    GOOD_CLASS,
    SampleSettings,
    generate_sample,
    image_name,
    make_image,
    write_contact_sheet,
)
from textile_defects.errors import ConfigError

from tests.helpers.repo import REPO_ROOT
CLASSES = ("non_defect", "hole", "lycra_cut", "needle", "twoply")
DEFECTS = tuple(label for label in CLASSES if label != GOOD_CLASS)
SMALL = (160, 90)
COUNTS = {GOOD_CLASS: 3, "hole": 2, "lycra_cut": 2, "needle": 2, "twoply": 2}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sample_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """A small sample written once for the layout tests: (images_dir, masks_dir)."""
    root = tmp_path_factory.mktemp("sample")
    generate_sample(root / "images", root / "masks", COUNTS, seed=5, width=SMALL[0], height=SMALL[1])
    return root / "images", root / "masks"


# --- make_image --------------------------------------------------------------------------------


@pytest.mark.parametrize("label", CLASSES)
def test_make_image_is_a_pure_function_of_its_arguments(label: str) -> None:
    first_rgb, first_mask = make_image(label, 1, 11, *SMALL)
    make_image(label, 2, 11, *SMALL)  # another draw in between must not leak state
    again_rgb, again_mask = make_image(label, 1, 11, *SMALL)
    assert png_bytes(first_rgb) == png_bytes(again_rgb)
    assert (first_mask is None) == (label == GOOD_CLASS)
    if first_mask is not None:
        assert png_bytes(first_mask) == png_bytes(again_mask)


def test_another_seed_gives_other_images() -> None:
    for label in CLASSES:
        one, _ = make_image(label, 0, 1, *SMALL)
        other, _ = make_image(label, 0, 2, *SMALL)
        difference = np.abs(np.asarray(one, dtype=int) - np.asarray(other, dtype=int))
        assert difference.mean() > 5, label


@pytest.mark.parametrize("size", [(160, 90), (254, 144), (64, 36)])
def test_image_and_mask_have_the_requested_size_and_modes(size: tuple[int, int]) -> None:
    rgb, mask = make_image("hole", 0, 3, *size)
    assert rgb.mode == "RGB" and rgb.size == size
    assert mask is not None and mask.mode == "L" and mask.size == size
    assert set(np.unique(np.asarray(mask))) <= {0, 255}


def test_small_image_shows_the_same_scene_as_a_larger_one() -> None:
    """Any size is the same field of view: 160x90 is a downscale of 254x144, not other fabric."""
    small, small_mask = make_image("twoply", 0, 9, 160, 90)
    large, large_mask = make_image("twoply", 0, 9, 254, 144)
    shrunk = np.asarray(large.resize(small.size, Image.Resampling.BOX), dtype=float)
    other, _ = make_image("twoply", 1, 9, 160, 90)
    same_scene = np.abs(shrunk - np.asarray(small, dtype=float)).mean()
    other_scene = np.abs(shrunk - np.asarray(other, dtype=float)).mean()
    assert same_scene < other_scene / 3
    rows_small = np.nonzero(np.asarray(small_mask).any(axis=1))[0] / 90
    rows_large = np.nonzero(np.asarray(large_mask).any(axis=1))[0] / 144
    assert abs(rows_small.mean() - rows_large.mean()) < 0.03


def test_unknown_class_and_tiny_size_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="stain"):
        make_image("stain", 0, 1, *SMALL)
    with pytest.raises(ConfigError, match="sample.width"):
        make_image("hole", 0, 1, 8, 8)


# --- defect geometry ---------------------------------------------------------------------------


def defect_masks(label: str, count: int = 4, size: tuple[int, int] = (254, 144)) -> list[np.ndarray]:
    masks = []
    for index in range(count):
        _, mask = make_image(label, index, 17, *size)
        assert mask is not None
        masks.append(np.asarray(mask) > 0)
    return masks


@pytest.mark.parametrize("label", DEFECTS)
def test_masks_cover_a_sensible_share_of_the_frame(label: str) -> None:
    for mask in defect_masks(label):
        assert 0.001 < mask.mean() < 0.3, f"{label}: mask covers {mask.mean():.2%}"


def test_hole_is_a_compact_dark_opening() -> None:
    for index, mask in enumerate(defect_masks("hole")):
        rgb, _ = make_image("hole", index, 17, 254, 144)
        luminance = np.asarray(rgb.convert("L"), dtype=float)
        rows, cols = np.nonzero(mask)
        assert np.ptp(rows) < 144 / 2 and np.ptp(cols) < 254 / 3
        # The darkest pixels of the photo are where the machine bed shows through.
        assert np.percentile(luminance[mask], 10) < 0.5 * np.median(luminance[~mask])


def test_needle_line_runs_through_the_frame_along_one_wale() -> None:
    for mask in defect_masks("needle"):
        assert mask.any(axis=1).all(), "every row crosses the needle line"
        assert mask.sum(axis=1).max() < 254 * 0.06, "one wale wide"


def test_twoply_band_runs_across_the_width() -> None:
    for mask in defect_masks("twoply"):
        assert mask.any(axis=0).all(), "every column crosses the band"
        assert mask.sum(axis=0).max() < 144 * 0.35, "a band of a few courses"


def test_lycra_cut_is_a_streak_along_a_course() -> None:
    for mask in defect_masks("lycra_cut"):
        rows, cols = np.nonzero(mask)
        assert np.ptp(cols) > 3 * np.ptp(rows)


# --- generate_sample ---------------------------------------------------------------------------


def test_generate_writes_each_class_with_its_count(sample_dirs) -> None:
    images_dir, _ = sample_dirs
    for label, count in COUNTS.items():
        names = sorted(path.name for path in (images_dir / label).iterdir())
        assert names == [image_name(label, index) for index in range(count)]


def test_masks_exist_exactly_for_defect_images(sample_dirs) -> None:
    images_dir, masks_dir = sample_dirs
    masks = sorted(path.relative_to(masks_dir) for path in masks_dir.rglob("*.png"))
    defect_images = sorted(
        path.relative_to(images_dir) for path in images_dir.rglob("*.png") if path.parent.name != GOOD_CLASS
    )
    assert masks == defect_images
    for relative in masks:
        with Image.open(images_dir / relative) as image, Image.open(masks_dir / relative) as mask:
            assert mask.mode == "L" and mask.size == image.size
            assert np.asarray(mask).any(), f"{relative}: empty mask"


def test_every_image_is_distinct(sample_dirs) -> None:
    images_dir, _ = sample_dirs
    digests = [hashlib.sha256(np.asarray(Image.open(path)).tobytes()).hexdigest() for path in images_dir.rglob("*.png")]
    assert len(digests) == sum(COUNTS.values())
    assert len(set(digests)) == len(digests)


def test_generate_is_byte_identical_across_runs_and_matches_make_image(sample_dirs, tmp_path: Path) -> None:
    images_dir, masks_dir = sample_dirs
    generate_sample(tmp_path / "images", tmp_path / "masks", COUNTS, seed=5, width=SMALL[0], height=SMALL[1])
    for first_root, second_root in ((images_dir, tmp_path / "images"), (masks_dir, tmp_path / "masks")):
        first = {path.relative_to(first_root): path.read_bytes() for path in first_root.rglob("*.png")}
        second = {path.relative_to(second_root): path.read_bytes() for path in second_root.rglob("*.png")}
        assert first == second
    rgb, _ = make_image("needle", 1, 5, *SMALL)
    with Image.open(images_dir / "needle" / image_name("needle", 1)) as written:
        assert np.array_equal(np.asarray(written), np.asarray(rgb))


def test_generate_rejects_bad_counts_and_leaves_no_output(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sample.counts.hole"):
        generate_sample(tmp_path / "images", tmp_path / "masks", {"hole": -1}, seed=1, width=64, height=36)
    assert not (tmp_path / "images").exists() and not (tmp_path / "masks").exists()


# --- honest difficulty -------------------------------------------------------------------------


def colour_statistics(image: Image.Image) -> np.ndarray:
    """The 6 global features: per-channel mean and standard deviation."""
    pixels = np.asarray(image, dtype=float).reshape(-1, 3)
    return np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)])


def cross_validated_balanced_accuracy(features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    classifiers = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression()),
        "decision tree": DecisionTreeClassifier(max_depth=3, random_state=0),
    }
    return {
        name: float(cross_val_score(clf, features, labels, cv=folds, scoring="balanced_accuracy").mean())
        for name, clf in classifiers.items()
    }


def test_global_colour_statistics_do_not_separate_defective_from_good() -> None:
    """40 good and 40 defective photos (10 per defect class): near-chance from means and stds.

    The good photos' exposure, light fall-off and yarn colour vary as much as
    a local defect shifts the global statistics, so a model has to find the
    defect itself. The control shows the same features and folds do separate
    a property that is global (bright versus dark yarn).
    """
    jobs = [(GOOD_CLASS, index) for index in range(40)] + [(label, index) for label in DEFECTS for index in range(10)]
    features = np.array([colour_statistics(make_image(label, index, 23, 64, 36)[0]) for label, index in jobs])
    is_defect = np.array([label != GOOD_CLASS for label, _ in jobs])
    scores = cross_validated_balanced_accuracy(features, is_defect)
    assert all(score < 0.7 for score in scores.values()), scores
    is_bright = features[:, :3].mean(axis=1) > np.median(features[:, :3].mean(axis=1))
    control = cross_validated_balanced_accuracy(features, is_bright)
    assert all(score > 0.9 for score in control.values()), control


# --- settings and contact sheet ----------------------------------------------------------------


GOOD_SETTINGS = {"seed": 1, "width": 160, "height": 90, "counts": {"hole": 1}, "contact_sheet_thumb_width": 80}


def test_settings_read_the_sample_section() -> None:
    settings = SampleSettings.from_section(GOOD_SETTINGS, CLASSES)
    assert settings == SampleSettings(seed=1, width=160, height=90, counts={"hole": 1}, contact_sheet_thumb_width=80)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"counts": {"holes": 1}}, "sample.counts.holes: unknown key"),
        ({"counts": {"hole": -1}}, "sample.counts.hole: got -1"),
        ({"counts": {"hole": 1.5}}, "sample.counts.hole: got 1.5; expected an integer"),
        ({"counts": {}}, "sample.counts: got {}"),
        ({"seed": "x"}, "sample.seed: got 'x'"),
        ({"seed": 4.7}, "sample.seed: got 4.7"),
        ({"width": 8}, "sample.width: got 8; expected an integer >= 16"),
        ({"contact_sheet_thumb_width": 2}, "sample.contact_sheet_thumb_width: got 2"),
        ({"colour": "red"}, "sample.colour: unknown key"),
    ],
)
def test_settings_name_the_bad_key(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        SampleSettings.from_section(GOOD_SETTINGS | changes, CLASSES)
    assert message in str(raised.value)


def test_settings_report_every_problem_at_once_and_a_class_the_generator_cannot_draw() -> None:
    values = {key: value for key, value in GOOD_SETTINGS.items() if key != "width"} | {"counts": {"stain": 2}}
    with pytest.raises(ConfigError) as raised:
        SampleSettings.from_section(values, (*CLASSES, "stain"))
    assert "sample.width: missing" in str(raised.value)
    assert "sample.counts.stain: got 2; expected a class the generator can draw" in str(raised.value)


def magenta_pixels(image: Image.Image) -> int:
    return int(np.all(np.asarray(image.convert("RGB")) == (255, 0, 200), axis=-1).sum())


def test_contact_sheet_groups_classes_and_outlines_defects(sample_dirs, tmp_path: Path) -> None:
    images_dir, masks_dir = sample_dirs
    plain = write_contact_sheet(images_dir, tmp_path / "plain.png", 64, classes=CLASSES)
    marked = write_contact_sheet(images_dir, tmp_path / "marked.png", 64, masks_dir=masks_dir, classes=CLASSES)
    with Image.open(plain) as plain_sheet, Image.open(marked) as marked_sheet:
        assert plain_sheet.size == marked_sheet.size
        assert plain_sheet.width >= 5 * 64
        assert magenta_pixels(plain_sheet) == 0
        # Outlines on every defect thumbnail (8 of them), none on good ones.
        assert magenta_pixels(marked_sheet) > 8 * 20


# --- stage CLI ---------------------------------------------------------------------------------


def run_stage(tmp_path: Path, counts: dict[str, int]) -> subprocess.CompletedProcess[str]:
    sample = {"seed": 3, "width": 64, "height": 36, "counts": counts, "contact_sheet_thumb_width": 32}
    params = {"classes": list(CLASSES), "sample": sample}
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(params), encoding="utf-8")
    command = [
        sys.executable,
        str(REPO_ROOT / "stages" / "sample.py"),
        "--params",
        str(params_path),
        "--out-images",
        str(tmp_path / "images"),
        "--out-masks",
        str(tmp_path / "masks"),
        "--contact-sheet",
        str(tmp_path / "reports" / "contact_sheet.png"),
    ]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, check=False)


def test_stage_writes_images_masks_and_contact_sheet(tmp_path: Path) -> None:
    result = run_stage(tmp_path, {GOOD_CLASS: 2, "hole": 1, "needle": 1})
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "images").rglob("*.png"))) == 4
    assert sorted(p.relative_to(tmp_path / "masks").as_posix() for p in (tmp_path / "masks").rglob("*.png")) == [
        "hole/hole_000.png",
        "needle/needle_000.png",
    ]
    with Image.open(tmp_path / "reports" / "contact_sheet.png") as sheet:
        assert sheet.width > 0


def test_stage_rejects_a_counts_key_that_is_not_a_class(tmp_path: Path) -> None:
    result = run_stage(tmp_path, {GOOD_CLASS: 2, "knot": 1})
    assert result.returncode == 2
    assert "sample.counts.knot" in result.stderr
    assert not (tmp_path / "images").exists()
