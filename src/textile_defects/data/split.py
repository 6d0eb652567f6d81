"""Split ORIGINAL images into train and validation, stratified by class, seeded.

Splitting happens before augmentation so that no photo (nor any augmented
copy of it) is on both sides: the report's fix for data leakage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from textile_defects.data.manifest import relative_to_manifest, resolve
from textile_defects.errors import ConfigError, DataError
from textile_defects.utils.seeding import rng_for

SPLITS: tuple[str, ...] = ("train", "val")


def validate_val_originals(
    val_originals: Mapping[str, int], originals_per_class: Mapping[str, int], classes: Sequence[str]
) -> None:
    """Refuse settings that cannot be met, naming the class and what to change.

    Each class needs at least one original left for training and at least
    one held out, so ``1 <= val_originals[c] <= n_c - 1``.
    """
    problems: list[str] = []
    unknown = sorted(set(val_originals) - set(classes))
    if unknown:
        problems.append(f"split.val_originals names unknown class(es) {unknown}; known classes: {list(classes)}")
    for label in classes:
        available = originals_per_class.get(label, 0)
        if label not in val_originals:
            problems.append(f"split.val_originals has no entry for class '{label}' ({available} originals); add one")
            continue
        wanted = val_originals[label]
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
            problems.append(f"split.val_originals.{label} = {wanted!r}; it must be an integer >= 1")
        elif wanted >= available:
            problems.append(
                f"split.val_originals.{label} = {wanted}, but class '{label}' has only {available} original(s); "
                f"at most {max(available - 1, 0)} can be held out so that training keeps at least one"
                + ("" if available >= 2 else f" (class '{label}' needs at least 2 originals: add photos)")
            )
    if problems:
        raise ConfigError("cannot split:\n  - " + "\n  - ".join(problems))


def assign_splits(
    rows: Sequence[Mapping[str, str]], val_originals: Mapping[str, int], classes: Sequence[str], seed: int
) -> dict[str, str]:
    """Map each ``original_id`` to ``"train"`` or ``"val"``.

    Per class, originals are sorted by id and shuffled with a generator
    seeded by ``(seed, class)``, so adding a class never reshuffles another.
    """
    originals: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        originals[row["label"]].add(row["original_id"])
    validate_val_originals(val_originals, {label: len(ids) for label, ids in originals.items()}, classes)
    assignment: dict[str, str] = {}
    for label in classes:
        ordered = sorted(originals[label])
        order = rng_for(seed, "split", label).permutation(len(ordered))
        held_out = {ordered[i] for i in order[: val_originals[label]]}
        for original_id in ordered:
            assignment[original_id] = "val" if original_id in held_out else "train"
    return assignment


def split_manifest(
    rows: Sequence[Mapping[str, str]],
    source_manifest: Path,
    out_dir: Path,
    val_originals: Mapping[str, int],
    classes: Sequence[str],
    seed: int,
) -> dict[str, list[dict[str, str]]]:
    """Rows for ``<out_dir>/<split>/manifest.csv``, paths re-based onto the new manifests.

    Images are not copied: each row's ``path`` points back at the ingested
    file, relative to the split manifest that will hold it.
    """
    unknown = sorted({row["label"] for row in rows} - set(classes))
    if unknown:
        raise DataError(f"{source_manifest}: label(s) {unknown} are not in params 'classes' {list(classes)}")
    assignment = assign_splits(rows, val_originals, classes, seed)
    by_split: dict[str, list[dict[str, str]]] = {name: [] for name in SPLITS}
    for row in rows:
        split = assignment[row["original_id"]]
        target_manifest = out_dir / split / "manifest.csv"
        new_row = dict(row)
        new_row["split"] = split
        new_row["path"] = relative_to_manifest(target_manifest, resolve(source_manifest, row))
        by_split[split].append(new_row)
    return by_split
