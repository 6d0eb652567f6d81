"""The predict CLI: same predictions as evaluate, bad files skipped, clear failures."""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textile_defects.evaluation.config import EvaluateConfig
from textile_defects.evaluation.evaluate import evaluate_models
from textile_defects.predict import find_images, main, predict

from tests.helpers.evaluation import CLASSES, SMALL_MODEL, tiny_checkpoint, write_image_manifest, write_images
from tests.helpers.repo import TINY_PARAMS

# The tiny configuration's frames are below ingest's default minimum (224x224), which predict applies;
# its own minimum (params ingest.min_width x min_height of the tiny repository) is passed, as its export records it.
TINY_MIN_SIZE = ["--min-size", "{min_width}x{min_height}".format(**TINY_PARAMS["ingest"])]

LABELS = ["non_defect", "non_defect", "hole", "lycra_cut", "needle", "twoply"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "post_baseline.pt", seed=3)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder as a user has it: nested, mixed-case suffixes, one broken and one truncated file, clutter."""
    folder = tmp_path / "photos"
    images = write_images(folder, LABELS)
    images[1].rename(images[1].with_suffix(".PNG"))
    (folder / "hole" / "broken.jpg").write_text("this is not a photo")
    (folder / "needle" / "cut_short.png").write_bytes(images[4].read_bytes()[:300])
    (folder / "notes.txt").write_text("not an image, and not named like one")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def test_find_images_is_recursive_case_insensitive_and_skips_clutter(photos: Path) -> None:
    found = [path.relative_to(photos).as_posix() for path in find_images(photos)]
    assert found == sorted(found)
    assert "non_defect/img_01.PNG" in found and "hole/broken.jpg" in found
    assert not any(name.endswith((".txt", ".DS_Store")) for name in found)
    assert len(found) == len(LABELS) + 2


def test_predict_reproduces_evaluate_on_the_validation_originals(model: Path, photos: Path, tmp_path: Path) -> None:
    readable = [path for path in find_images(photos) if path.name not in ("broken.jpg", "cut_short.png")]
    labels = [path.parent.name for path in readable]
    manifest = write_image_manifest(tmp_path / "split/val/manifest.csv", readable, labels)
    config = EvaluateConfig(batch_size=4, workers=1, device="cpu", confidence=0.95, misclassified_max=2, thumb_width=48)
    history = tmp_path / "history.csv"
    history.write_text("epoch,val_f1_macro\n1,0.5\n")
    results = evaluate_models([model], {"val_originals": manifest}, [history], tmp_path / "metrics", tmp_path / "reports", config)
    evaluated = results["post_baseline"]["val_originals"]

    # A different batch size and the broken files in the folder must not change any image's result.
    out = tmp_path / "predictions.csv"
    predict([str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--batch-size", "3", "--device", "cpu"])
    rows = read_rows(out)
    for path, probabilities in zip(evaluated.paths, evaluated.probabilities, strict=True):
        row = rows[path.relative_to(photos).as_posix()]
        assert row["predicted"] == CLASSES[int(probabilities.argmax())]
        assert row["defective"] == ("no" if row["predicted"] == "non_defect" else "yes")
        predicted = np.array([float(row[f"p_{name}"]) for name in CLASSES])
        np.testing.assert_allclose(predicted, probabilities, atol=2e-6)
    with (tmp_path / "metrics/confusion/post_baseline_val_originals.csv").open() as handle:
        confusion = [line["predicted"] for line in csv.DictReader(handle)]
    assert confusion == [rows[path.relative_to(photos).as_posix()]["predicted"] for path in evaluated.paths]


def test_cli_reports_and_skips_bad_files(model: Path, photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "predictions.csv"
    result = subprocess.run(
        [sys.executable, "-m", "textile_defects.predict", str(photos), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--device", "cpu"],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}, "LOG_LEVEL": "INFO"},
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == len(LABELS) + 2
    assert "not a readable image" in rows["hole/broken.jpg"]["error"]
    assert rows["needle/cut_short.png"]["error"] and rows["needle/cut_short.png"]["predicted"] == ""
    good = [row for name, row in rows.items() if name not in ("hole/broken.jpg", "needle/cut_short.png")]
    assert all(row["error"] == "" and row["predicted"] in CLASSES for row in good)
    for row in good:
        assert sum(float(row[f"p_{name}"]) for name in CLASSES) == pytest.approx(1.0, abs=1e-5)
    assert "6 image(s) classified" in result.stderr and "2 skipped" in result.stderr
    assert "broken.jpg" in result.stderr
    assert "img/s" in result.stderr  # the tqdm bar


def test_missing_model_and_empty_folder_fail_with_a_clear_message(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "empty"), "--model", str(tmp_path / "absent.pt")])
    assert exited.value.code == 2
    assert "absent.pt not found" in caplog.text
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "empty"), "--model", str(model), *TINY_MIN_SIZE, "--out", str(tmp_path / "p.csv")])
    assert exited.value.code == 2
    assert "no .jpg, .jpeg or .png files found" in caplog.text
    assert not (tmp_path / "p.csv").exists()


def test_a_folder_of_only_bad_files_fails_but_still_lists_them(model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_text("nope")
    out = tmp_path / "p.csv"
    with pytest.raises(SystemExit) as exited:
        main([str(folder), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--device", "cpu"])
    assert exited.value.code == 2
    assert "none of the 1 file(s)" in caplog.text
    assert read_rows(out)["a.png"]["error"]


def test_a_single_image_is_named_as_given(model: Path, tmp_path: Path) -> None:
    image = write_images(tmp_path, ["hole"])[0]
    out = tmp_path / "p.csv"
    predictions = predict([str(image), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--device", "cpu"])
    assert len(predictions) == 1 and predictions[0].probabilities is not None
    assert list(read_rows(out)) == [str(image)]


def _probabilities(model: Path, image: Path, out: Path) -> np.ndarray:
    prediction = predict([str(image), "--model", str(model), *TINY_MIN_SIZE, "--out", str(out), "--device", "cpu"])[0]
    assert prediction.probabilities is not None, prediction.error
    return prediction.probabilities


def test_a_phone_photo_and_a_16_bit_png_are_classified_as_their_upright_8_bit_self(model: Path, tmp_path: Path) -> None:
    # Grey pixels, so the 16-bit copy (value * 257) holds exactly the same picture; a left-to-right
    # ramp under the noise, so a sideways copy is a different picture.
    noise = np.random.default_rng(5).integers(0, 96, (90, 160))
    grey = (noise + np.linspace(0, 159, 160)[None, :]).astype(np.uint8)
    upright = tmp_path / "upright.png"
    Image.fromarray(grey).convert("RGB").save(upright)
    expected = _probabilities(model, upright, tmp_path / "p.csv")

    exif = Image.Exif()
    exif[0x0112] = 6  # a phone held upright: stored sideways, "rotate 90 degrees clockwise to view"
    rotated = tmp_path / "phone.png"
    Image.fromarray(grey).convert("RGB").transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif.tobytes())
    deep = tmp_path / "deep.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(deep)
    assert Image.open(deep).mode == "I;16"
    for variant in (rotated, deep):
        probabilities = _probabilities(model, variant, tmp_path / "p.csv")
        np.testing.assert_allclose(probabilities, expected, atol=1e-6, err_msg=variant.name)
        assert probabilities.argmax() == expected.argmax()
    # The sideways pixels themselves give another answer: the test would catch a loader that ignores EXIF.
    sideways = tmp_path / "sideways.png"
    Image.fromarray(grey).convert("RGB").transpose(Image.Transpose.ROTATE_90).save(sideways)  # no EXIF
    assert not np.allclose(_probabilities(model, sideways, tmp_path / "p.csv"), expected, atol=1e-6)


def test_predict_logs_the_checkpoint_it_loads_and_keeps_inference_nondeterministic(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = write_images(tmp_path, ["hole"])[0]
    torch.use_deterministic_algorithms(False)  # as a fresh process starts (a training test may have run before)
    caplog.set_level(logging.INFO)
    predict([str(image), "--model", str(model), *TINY_MIN_SIZE, "--out", str(tmp_path / "p.csv"), "--device", "cpu"])
    assert "random initialisation" not in caplog.text
    assert f"Loaded checkpoint {model}" in caplog.text and SMALL_MODEL.encoder in caplog.text
    assert str(list(CLASSES)) in caplog.text
    assert not torch.are_deterministic_algorithms_enabled(), "inference must not switch on training's global settings"


def test_the_good_class_comes_from_the_checkpoint(tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "hole_is_good.pt", seed=3, good_class="hole")
    images = write_images(tmp_path / "photos", LABELS)
    out = tmp_path / "p.csv"
    predict([str(tmp_path / "photos"), "--model", str(checkpoint), *TINY_MIN_SIZE, "--out", str(out), "--device", "cpu"])
    rows = read_rows(out)
    assert len(rows) == len(images)
    assert all(row["defective"] == ("no" if row["predicted"] == "hole" else "yes") for row in rows.values())
