"""The one params validator: every problem reported at once, each naming its key path."""

from __future__ import annotations

import pytest

from textile_defects.errors import ConfigError
from textile_defects.utils.params import SectionReader, available_cores


def test_reads_valid_values_without_coercion() -> None:
    reader = SectionReader({"seed": 4, "rate": 1, "size": [64, 32], "on": True, "mode": "a"}, "demo")
    assert reader.integer("seed", minimum=0) == 4
    assert reader.number("rate", above=0) == 1.0
    assert reader.int_pair("size", minimum=16) == (64, 32)
    assert reader.boolean("on") is True
    assert reader.choice("mode", ("a", "b")) == "a"
    reader.finish()


def test_reports_every_problem_with_its_key_path() -> None:
    values = {"seed": 4.7, "rate": -1, "extra": 1, "counts": {"hole": 0, "bogus": 2}}
    reader = SectionReader(values, "split")
    reader.integer("seed", minimum=0)
    reader.number("rate", above=0)
    reader.integer("missing", minimum=0)
    reader.per_class("counts", ("hole", "needle"), lambda sub, name: sub.integer(name, minimum=1))
    with pytest.raises(ConfigError) as caught:
        reader.finish()
    message = str(caught.value)
    for expected in (
        "split.seed: got 4.7",
        "split.rate: got -1",
        "split.missing: missing",
        "split.extra: unknown key",
        "split.counts.hole: got 0",
        "split.counts.needle: missing",
        "split.counts.bogus: unknown key",
    ):
        assert expected in message
    assert "7 problem(s)" in message


def test_booleans_are_not_integers_and_optional_accepts_null() -> None:
    reader = SectionReader({"n": True, "patience": None}, "train")
    reader.integer("n", minimum=0)
    assert reader.integer("patience", minimum=1, optional=True) is None
    with pytest.raises(ConfigError, match=r"train\.n: got True"):
        reader.finish()


def test_a_section_that_is_not_a_mapping_is_reported() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        SectionReader([1, 2], "evaluate").finish()


def test_available_cores_without_sched_getaffinity(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert available_cores() == 3
