"""The committed data-stage hash record (tests/fixtures/data_hashes.json) and dvc.lock agree.

These tests read the committed files on purpose: they check the record, not the code.
"""

from __future__ import annotations

import json

from tests.helpers.data_hashes import COMMAND, RECORD, differences, load_record, lock_hashes


def test_recorded_pipeline_hashes_match_dvc_lock() -> None:
    problems = differences(load_record()["pipeline"], lock_hashes())
    assert not problems, (
        f"dvc.lock's data-stage outputs differ from {RECORD.name}:\n" + "\n".join(problems) + "\n"
        f"After a deliberate change and `dvc repro`, record them with `{COMMAND} refresh-pipeline`; "
        "after a `dvc repro` of unchanged code and params, this machine does not reproduce the committed data."
    )


def test_record_holds_both_parts() -> None:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    assert set(record) == {"probe", "pipeline"}
    assert any(name.startswith("full/images/") for name in record["probe"])
    assert "data/sample/images" in record["pipeline"] and "data/augmented/train" in record["pipeline"]
