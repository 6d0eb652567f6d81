"""Split ORIGINAL images into train and validation, stratified by class, seeded.

Splitting happens before augmentation so that no photo (nor any augmented
copy of it) is on both sides: the report's fix for data leakage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textile_defects.data.manifest import relative_to_manifest, resolve
from textile_defects.errors import ConfigError, DataError
from textile_defects.utils.params import SectionReader
from textile_defects.utils.seeding import rng_for

SPLITS: tuple[str, ...] = ("train", "val")


@dataclass(frozen=True)
class SplitConfig:
    """The ``split`` section of params.yaml, validated.

    ``val_originals`` holds, for every class in ``classes`` order, how many
    original photos are held out for validation (the report's VAL_ORIGINALS).
    """

    seed: int
    val_originals: dict[str, int]

    @classmethod
    def from_section(cls, values: Any, classes: Sequence[str], path: str = "split") -> SplitConfig:
        """Check section ``path`` against the pipeline's ``classes``; one :class:`ConfigError` lists every problem."""
        reader = SectionReader(values, path)
        config = cls(
            seed=reader.integer("seed"),
            val_originals=reader.per_class("val_originals", classes, lambda sub, label: sub.integer(label, minimum=1)),
        )
        reader.finish()
        return config

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.val_originals)


def check_feasible(config: SplitConfig, originals_per_class: Mapping[str, int]) -> None:
    """Refuse held-out counts the data cannot meet, naming each class and what to change.

    Each class needs at least one original left for training and at least
    one held out, so ``1 <= val_originals[c] <= n_c - 1``.
    """
    problems: list[str] = []
    for label, wanted in config.val_originals.items():
        available = originals_per_class.get(label, 0)
        if wanted >= available:
            problems.append(
                f"split.val_originals.{label} = {wanted}, but class '{label}' has only {available} original(s); "
                f"at most {max(available - 1, 0)} can be held out so that training keeps at least one"
                + ("" if available >= 2 else f" (class '{label}' needs at least 2 originals: add photos)")
            )
    if problems:
        raise ConfigError("cannot split:\n  - " + "\n  - ".join(problems))


def assign_splits(rows: Sequence[Mapping[str, str]], config: SplitConfig) -> dict[str, str]:
    """Map each ``original_id`` to ``"train"`` or ``"val"``.

    Per class, originals are sorted by id and shuffled with a generator
    seeded by ``(seed, class)``, so adding a class never reshuffles another.
    """
    originals: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        originals[row["label"]].add(row["original_id"])
    check_feasible(config, {label: len(ids) for label, ids in originals.items()})
    assignment: dict[str, str] = {}
    for label, held_out_count in config.val_originals.items():
        ordered = sorted(originals[label])
        order = rng_for(config.seed, "split", label).permutation(len(ordered))
        held_out = {ordered[i] for i in order[:held_out_count]}
        for original_id in ordered:
            assignment[original_id] = "val" if original_id in held_out else "train"
    return assignment


def split_manifest(
    rows: Sequence[Mapping[str, str]], source_manifest: Path, out_dir: Path, config: SplitConfig
) -> dict[str, list[dict[str, str]]]:
    """Rows for ``<out_dir>/<split>/manifest.csv``, paths re-based onto the new manifests.

    Images are not copied: each row's ``path`` points back at the ingested
    file, relative to the split manifest that will hold it.
    """
    unknown = sorted({row["label"] for row in rows} - set(config.classes))
    if unknown:
        raise DataError(f"{source_manifest}: label(s) {unknown} are not in params 'classes' {list(config.classes)}")
    assignment = assign_splits(rows, config)
    by_split: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS}
    for row in rows:
        split = assignment[row["original_id"]]
        target_manifest = out_dir / split / "manifest.csv"
        new_row = dict(row)
        new_row["split"] = split
        new_row["path"] = relative_to_manifest(target_manifest, resolve(source_manifest, row))
        by_split[split].append(new_row)
    return by_split
