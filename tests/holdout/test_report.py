"""The hold-out report's own checks: photos that chose nothing, and labels the pipeline knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textile_defects.data.manifest import COLUMNS, write_manifest
from textile_defects.errors import DataError
from textile_defects.holdout.paired import mcnemar_exact, paired_at_specificity
from textile_defects.holdout.report import check_independent, holdout_plan

CLASSES = ("non_defect", "hole")


def _manifest(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A manifest of (original_id, label, sha256) rows."""
    full = []
    for original, label, digest in rows:
        row = dict.fromkeys(COLUMNS, "")
        row.update(path=f"images/{label}/{original}.png", label=label, original_id=original, sha256=digest,
                   width="160", height="90", source_file=f"{label}/{original}.png")
        full.append(row)
    return write_manifest(path, full)


def test_a_photo_the_pipeline_already_has_is_no_test(tmp_path: Path) -> None:
    pipeline = _manifest(tmp_path / "pipeline.csv", [("a", "non_defect", "1" * 64), ("b", "hole", "2" * 64)])
    fresh = _manifest(tmp_path / "fresh.csv", [("c", "non_defect", "3" * 64), ("d", "hole", "4" * 64)])
    check_independent(fresh, pipeline)
    reused = _manifest(tmp_path / "reused.csv", [("c", "non_defect", "3" * 64), ("x", "hole", "2" * 64)])
    with pytest.raises(DataError, match=r"1 hold-out photo\(s\) are also in the pipeline's photos") as error:
        check_independent(reused, pipeline)
    assert "hole/x.png = hole/b.png" in str(error.value) and "holdout.raw_dir" in str(error.value)


def test_the_plan_puts_every_photo_in_fold_0_and_refuses_unknown_labels(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "m.csv", [("c", "non_defect", "3" * 64), ("d", "hole", "4" * 64)])
    assert holdout_plan(manifest, CLASSES) == {"c": ("non_defect", 0), "d": ("hole", 0)}
    stray = _manifest(tmp_path / "s.csv", [("c", "non_defect", "3" * 64), ("e", "stain", "5" * 64)])
    with pytest.raises(DataError, match=r"label\(s\) \['stain'\] are not in params 'classes'"):
        holdout_plan(stray, CLASSES)


def test_the_paired_test_counts_only_the_photos_where_two_detectors_disagree() -> None:
    # 4 good photos (scores 0..3 for both), 6 defects: the first finds 5, the second 2 of them, at specificity 0.75.
    defective = np.array([False] * 4 + [True] * 6)
    first = np.array([0.0, 1.0, 2.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0, 0.5])
    second = np.array([0.0, 1.0, 2.0, 3.0, 9.0, 9.0, 0.5, 0.5, 0.5, 0.5])
    paired = paired_at_specificity(defective, first, second, 0.75)
    assert (paired["defect_photos"], paired["both"], paired["first_only"], paired["second_only"]) == (6, 2, 3, 0)
    assert paired["p_value"] == pytest.approx(0.25)  # 3 of 3 discordant one way: 2 * 0.5**3
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(10, 0) == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact(4, 4) == 1.0 and mcnemar_exact(1, 5) == mcnemar_exact(5, 1)


def test_a_tiny_p_value_is_stored_as_it_is_not_rounded_to_zero() -> None:
    # 25 defects found by the first detector only: p = 2 * 0.5**25, about 6e-8.
    defective = np.array([False] * 4 + [True] * 25)
    first = np.array([0.0, 1.0, 2.0, 3.0] + [9.0] * 25)
    second = np.array([0.0, 1.0, 2.0, 3.0] + [0.5] * 25)
    paired = paired_at_specificity(defective, first, second, 0.75)
    assert paired["p_value"] == pytest.approx(2 * 0.5**25) and paired["p_value"] > 0
