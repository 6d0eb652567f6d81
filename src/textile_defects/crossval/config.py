"""The ``crossval`` params section, validated once into a typed config."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from textile_defects.utils.params import DEVICES, SectionReader

VARIANTS: tuple[str, ...] = ("baseline", "post_baseline")
"""The fine-tuned models the CV trains; each reads params section ``train_<variant>``."""


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """The frozen-feature logistic regression."""

    c: float
    """Inverse L2 strength of the logistic regression (scikit-learn's ``C``) on standardised features."""
    max_iter: int
    seed: int


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """Intervals of the pooled report."""

    confidence: float
    bootstrap_resamples: int
    bootstrap_seed: int


@dataclasses.dataclass(frozen=True)
class CrossvalConfig:
    """Settings of the cross-validation stages (params section ``crossval``)."""

    folds: tuple[int, ...]
    """0..K-1; a list in params.yaml so that crossval/dvc.yaml can loop over it."""
    seed: int
    """Seed of the fold plan: which originals each fold scores."""
    seeds: tuple[int, ...]
    """Training seeds: every fold's models are trained once per seed."""
    train_overrides: Mapping[str, Any]
    """Keys replacing those of ``train_<variant>`` for the CV models (validated by the training config)."""
    batch_size: int
    device: str
    probe: ProbeConfig
    report: ReportConfig

    @property
    def k(self) -> int:
        """The number of folds."""
        return len(self.folds)

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> CrossvalConfig:
        """Validate params section ``crossval``; every problem at once in one ConfigError."""
        reader = SectionReader(values, "crossval")
        folds = reader.int_list("folds", minimum=0)
        if folds and (len(folds) < 2 or list(folds) != list(range(len(folds)))):
            reader.problem("folds", list(folds), "[0, 1, ..., K-1] with K >= 2 (K is the number of folds)")
        seeds = reader.int_list("seeds", minimum=0)
        if len(set(seeds)) != len(seeds):
            reader.problem("seeds", list(seeds), "distinct training seeds")
        overrides = reader.raw("train_overrides")
        if not isinstance(overrides, Mapping):
            reader.problem("train_overrides", overrides, "a mapping of training keys (may be empty: {})")
            overrides = {}
        elif "seed" in overrides:
            reader.problem(
                "train_overrides.seed", overrides["seed"], "no seed here: the CV trains once per crossval.seeds entry"
            )
        probe = reader.sub_section("probe")
        probe_config = ProbeConfig(
            c=probe.number("c", above=0),
            max_iter=probe.integer("max_iter", minimum=1),
            seed=probe.integer("seed", minimum=0),
        )
        probe.finish_into(reader)
        report = reader.sub_section("report")
        report_config = ReportConfig(
            confidence=report.number("confidence", above=0, below=1),
            bootstrap_resamples=report.integer("bootstrap_resamples", minimum=1),
            bootstrap_seed=report.integer("bootstrap_seed", minimum=0),
        )
        report.finish_into(reader)
        config = cls(
            folds=folds,
            seed=reader.integer("seed", minimum=0),
            seeds=seeds,
            train_overrides=dict(overrides),
            batch_size=reader.integer("batch_size", minimum=1),
            device=reader.choice("device", DEVICES),
            probe=probe_config,
            report=report_config,
        )
        reader.finish()
        return config


def fold_training_section(train_section: Mapping[str, Any], overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One CV model's training settings: its variant's section, the CV overrides on top, the given seed."""
    return {**train_section, **overrides, "seed": seed}
