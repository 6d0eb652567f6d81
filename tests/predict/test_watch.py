"""Watch mode: rows appended as frames land, never a frame twice (also across restarts), half-written files waited for."""

from __future__ import annotations

import csv
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textile_defects.errors import ConfigError
from textile_defects.predict import predict

from tests.helpers.evaluation import tiny_checkpoint

FAST = ["--poll", "0.05", "--settle", "0.15", "--min-size", "64x36", "--engine", "torch", "--gate", "none"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "post_baseline.pt", seed=3)


def frame(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (72, 128, 3), dtype=np.uint8)).save(path)
    return path


def rows(out: Path) -> list[dict[str, str]]:
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


def watch(model: Path, folder: Path, out: Path, *options: str) -> list:
    return predict([str(folder), "--watch", "--model", str(model), "--out", str(out), *FAST, *options])


def test_rows_are_appended_and_a_restart_never_judges_a_frame_twice(model: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "incoming", tmp_path / "line.csv"
    for index in range(3):
        frame(folder / f"cam/f{index}.png", index)
    first = watch(model, folder, out, "--idle-exit", "0.5")
    assert [p.path.name for p in first] == ["f0.png", "f1.png", "f2.png"]
    before = rows(out)
    for index in range(3, 5):
        frame(folder / f"cam/f{index}.png", index)
    second = watch(model, folder, out, "--idle-exit", "0.5")
    assert [p.path.name for p in second] == ["f3.png", "f4.png"]
    after = rows(out)
    assert after[:3] == before and [r["path"] for r in after] == [f"cam/f{i}.png" for i in range(5)]
    assert all(r["error"] == "" and r["predicted"] for r in after)


def test_a_file_still_being_written_is_waited_for_and_a_broken_one_reported(model: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "incoming", tmp_path / "line.csv"
    whole = frame(tmp_path / "whole.png", 7).read_bytes()
    (folder / "slow.png").parent.mkdir(parents=True)

    def camera() -> None:  # writes half a frame, stalls longer than --settle, then finishes it
        with (folder / "slow.png").open("wb") as handle:
            handle.write(whole[: len(whole) // 2])
            handle.flush()
            time.sleep(0.8)
            handle.write(whole[len(whole) // 2 :])

    writer = threading.Thread(target=camera)
    writer.start()
    (folder / "cut.png").write_bytes(whole[:500])  # never completed
    (folder / "notes.jpg").write_text("not a photo")
    frame(folder / "ok.png", 1)
    try:
        watch(model, folder, out, "--retry-for", "1.5", "--max-frames", "4")
    finally:
        writer.join()
    by_path = {r["path"]: r for r in rows(out)}
    assert set(by_path) == {"slow.png", "cut.png", "notes.jpg", "ok.png"}
    assert by_path["slow.png"]["error"] == "" and by_path["slow.png"]["predicted"]
    assert "(truncated)" in by_path["cut.png"]["error"] and by_path["cut.png"]["predicted"] == ""
    assert "(not_an_image)" in by_path["notes.jpg"]["error"]


def test_a_burst_is_worked_off_in_landing_order_and_the_backlog_reported(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, out = tmp_path / "incoming", tmp_path / "line.csv"
    for index in range(24):
        path = frame(folder / f"burst_{index:02d}.png", index)
        stamp = 1_700_000_000 + index  # landing order differs from name order in the second half
        if index >= 12:
            stamp = 1_700_000_100 - index
        os.utime(path, (stamp, stamp))
    caplog.set_level(logging.INFO)
    judged = watch(model, folder, out, "--batch-size", "4", "--max-frames", "24")
    names = [p.path.name for p in judged]
    assert len(names) == 24 == len(set(names)) == len(rows(out))
    assert names[:12] == [f"burst_{i:02d}.png" for i in range(12)] and names[12:] == [f"burst_{i:02d}.png" for i in range(23, 11, -1)]
    assert "behind: 20 frame(s) waiting" in caplog.text
    assert "latency from landing to row p50" in caplog.text


def test_a_row_cut_off_by_a_crash_is_dropped_and_its_frame_judged_again(model: Path, tmp_path: Path) -> None:
    folder, out = tmp_path / "incoming", tmp_path / "line.csv"
    frame(folder / "a.png", 1)
    frame(folder / "b.png", 2)
    watch(model, folder, out, "--max-frames", "2")
    text = out.read_text()
    out.write_text(text[: text.index("b.png") + 12])  # the crash: b's row half written
    again = watch(model, folder, out, "--idle-exit", "0.5")
    assert [p.path.name for p in again] == ["b.png"]
    assert [r["path"] for r in rows(out)] == ["a.png", "b.png"] and out.read_text().endswith("\n")


def test_a_csv_of_other_columns_is_refused(model: Path, tmp_path: Path) -> None:
    (tmp_path / "incoming").mkdir()
    out = tmp_path / "line.csv"
    out.write_text("path,label\nx.png,hole\n")
    with pytest.raises(ConfigError, match="holds rows of other columns"):
        watch(model, tmp_path / "incoming", out, "--idle-exit", "0.2")
