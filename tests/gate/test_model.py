"""A gate built end to end on tiny images with a randomly initialised encoder: scores, checkpoint, heatmaps."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textile_defects.errors import ConfigError, DataError
from textile_defects.gate.checkpoint import load_gate, save_gate
from textile_defects.gate.heatmap import write_overlay
from textile_defects.gate.model import GateConfig, TrainingImage, fit_gate

from tests.helpers.gate import knit_texture, tiny_gate_config, write_png

WIDTH, HEIGHT = 256, 160
SPOT = (80, 176)  # (row, column) of the bright spot's centre


def texture(seed: int) -> np.ndarray:
    return knit_texture(seed, WIDTH, HEIGHT)


def tiny_config(**overrides: object) -> GateConfig:
    return tiny_gate_config(WIDTH, HEIGHT, **overrides)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, GateConfig, Path]:
    folder = tmp_path_factory.mktemp("gate")
    torch.manual_seed(0)
    images = [TrainingImage(write_png(folder / f"good_{i}.png", texture(i)), f"good_{i}", True) for i in range(6)]
    images.append(TrainingImage(write_png(folder / "good_0_copy.png", texture(100)), "good_0", False))
    config = tiny_config()
    return fit_gate(config, images), config, folder


def test_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        tiny_config(neighbourhood=2, grid="middle", coreset_ratio=0.0, surprise=1)
    message = str(error.value)
    assert all(key in message for key in ("gate.neighbourhood", "gate.grid", "gate.coreset_ratio", "gate.surprise"))


def test_a_bright_spot_on_a_uniform_texture_scores_highest_at_its_location(built, tmp_path: Path) -> None:
    gate, _, _ = built
    pixels = texture(50)
    row, column = SPOT
    pixels[row - 6 : row + 6, column - 6 : column + 6] = 255
    scores, maps = gate.score_files([write_png(tmp_path / "spot.png", pixels), write_png(tmp_path / "plain.png", texture(51))])
    patch_map = maps[0]
    i, j = np.unravel_index(int(np.argmax(patch_map)), patch_map.shape)
    cell_h, cell_w = HEIGHT / patch_map.shape[0], WIDTH / patch_map.shape[1]
    assert abs((i + 0.5) * cell_h - row) <= 1.5 * cell_h and abs((j + 0.5) * cell_w - column) <= 1.5 * cell_w
    assert scores[0] > gate.threshold >= 0 and scores[0] > scores[1]


def test_training_uses_copies_as_asked_and_records_held_out_scores(built) -> None:
    gate, _, _ = built
    assert gate.description["training_images"] == 7 and gate.description["training_originals"] == 6
    assert sorted(gate.description["held_out_scores"]) == [f"good_{i}" for i in range(6)]
    held_out = np.array(list(gate.description["held_out_scores"].values()))
    assert np.mean(held_out <= gate.threshold) >= 0.9


def test_checkpoint_round_trips_byte_deterministically(built, tmp_path: Path) -> None:
    gate, config, folder = built
    first, second = save_gate(gate, config, tmp_path / "a.pt"), save_gate(gate, config, tmp_path / "b.pt")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    loaded, payload = load_gate(first)
    assert payload["config"]["layers"] == ["_blocks.4", "_blocks.10"] and payload["threshold"] == gate.threshold
    assert payload["config"]["target_specificity"] == 0.9 and "prepare_image" in payload["preprocessing"]
    probe = folder / "good_3.png"
    assert np.allclose(loaded.score_files([probe])[0], gate.score_files([probe])[0], atol=1e-5)


def test_checkpoint_refuses_a_foreign_file(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "classifier.pt")
    with pytest.raises(DataError, match="not a gate checkpoint"):
        load_gate(tmp_path / "classifier.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        load_gate(tmp_path / "junk.pt")


def test_overlay_png_has_the_frame_size(built, tmp_path: Path) -> None:
    gate, _, folder = built
    scores, maps = gate.score_files([folder / "good_1.png"])
    written = write_overlay(tmp_path / "heat.png", texture(1), maps[0], gate.threshold)
    with Image.open(written) as image:
        assert image.size == (WIDTH, HEIGHT)
