"""predict on the tiny configuration with the type classifier naming the defect: the box in the CSV and on the heatmap."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image

from tests.helpers.repo import run


def test_predict_names_defects_by_type_and_outlines_the_region(reproduced_tiny_repo: Path, tmp_path: Path) -> None:
    repo = reproduced_tiny_repo
    assert (repo / "models" / "type.npz").is_file(), "dvc repro writes the type classifier (train_type)"
    out, heatmaps = tmp_path / "named.csv", tmp_path / "heatmaps"
    for engine in ("torch", "onnx"):
        result = run([sys.executable, "-m", "textile_defects.predict", "data/sample/images", "--out", str(out), "--naming", "type",
                      "--engine", engine, "--heatmaps", str(heatmaps), "--min-size", "64x36"], repo)  # fmt: skip
        assert "naming the defect with the type classifier" in result.stderr
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        defective = [r for r in rows if r["defective"] == "yes"]
        assert defective, "the tiny models call some sample photo defective"
        for r in defective:
            assert r["named_by"] == "type" and r["predicted"] != "non_defect"
            x0, y0, x1, y1 = (int(v) for v in r["defect_box"].split())
            assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 90
        assert all(r["named_by"] == "" and r["defect_box"] == "" for r in rows if r["defective"] == "no")
    pictures = sorted(heatmaps.glob("*.png"))
    assert len(pictures) == len(rows) and Image.open(pictures[0]).width > 0
    # Both namers together: the same columns, a defect named for every defective frame.
    result = run([sys.executable, "-m", "textile_defects.predict", "data/sample/images", "--out", str(out), "--naming", "mixed",
                  "--engine", "onnx", "--min-size", "64x36"], repo)  # fmt: skip
    assert "mixed with the classifier's at type weight 0.7" in result.stderr
    with out.open(newline="") as handle:
        mixed = list(csv.DictReader(handle))
    assert [r["defective"] for r in mixed] == [r["defective"] for r in rows], "the naming never changes defective-or-good"
    assert all(r["predicted"] != "non_defect" and r["named_by"] == "type" for r in mixed if r["defective"] == "yes" and r["defect_box"])
    # Naming by the classifier keeps the CSV as it was: no naming columns.
    run([sys.executable, "-m", "textile_defects.predict", "data/sample/images", "--out", str(out), "--naming", "classifier",
         "--engine", "torch", "--min-size", "64x36"], repo)  # fmt: skip
    with out.open(newline="") as handle:
        assert "named_by" not in (csv.DictReader(handle).fieldnames or [])
