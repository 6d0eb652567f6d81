"""Which photos go on which heatmap sheet (train_gate, the CV's gate report and the hold-out report alike)."""

from __future__ import annotations

from textile_defects.decision.detectors import GateScores
from textile_defects.gate.sheets import SHEET_TILES, TOP_GOOD, heatmap_sheets


def test_sheets_show_each_class_the_misses_the_off_mask_peaks_and_the_top_good_photos() -> None:
    scores = {f"g{i:02d}": float(i) for i in range(12)}  # good photos: g11 scores highest
    scores |= {f"h{i:02d}": 30.0 for i in range(20)}  # 20 holes, all found
    scores |= {"n0": 9.5, "n1": 8.0, "n2": 25.0}  # needle lines: n1 and n0 missed (threshold 10)
    rows = {o: {"label": "non_defect" if o[0] == "g" else ("hole" if o[0] == "h" else "needle"), "fold": 0,
                "score": s, "threshold": 10.0, "defective": s > 10.0} for o, s in scores.items()}
    gate = GateScores.from_rows(rows, "non_defect")
    localisation = {"per_original": {"h00": False, "n1": False, "n2": True}}
    sheets = heatmap_sheets(gate.order, gate.labels, gate.scores, gate.verdict, "non_defect", localisation)
    # Each defect class gets an even share of the tiles; a class with fewer shows all it has and leaves the rest.
    assert sheets["heatmaps_defects.png"] == [f"h{i:02d}" for i in range(SHEET_TILES - 3)] + ["n0", "n1", "n2"]
    assert sheets["heatmaps_missed.png"] == ["n1", "n0"]  # lowest score first
    assert sheets["heatmaps_off_mask.png"] == ["h00"]  # a missed photo off its mask is on the missed sheet already
    assert sheets["heatmaps_top_good.png"] == [f"g{i:02d}" for i in range(11, 11 - TOP_GOOD, -1)]
    nothing_missed = {o: {**r, "defective": True} if r["label"] != "non_defect" else r for o, r in rows.items()}
    again = GateScores.from_rows(nothing_missed, "non_defect")
    assert "heatmaps_missed.png" not in heatmap_sheets(again.order, again.labels, again.scores, again.verdict, "non_defect")


def test_two_large_classes_share_the_defect_sheet_evenly() -> None:
    order = [f"h{i:02d}" for i in range(20)] + [f"n{i:02d}" for i in range(20)]
    labels = ["hole"] * 20 + ["needle"] * 20
    sheets = heatmap_sheets(order, labels, [30.0] * 40, [True] * 40, "non_defect")
    assert sheets["heatmaps_defects.png"] == order[: SHEET_TILES // 2] + order[20 : 20 + SHEET_TILES // 2]
    assert "heatmaps_top_good.png" not in sheets and "heatmaps_missed.png" not in sheets
