"""The fold plan: which fold scores each ORIGINAL photo, and the checks that make it trustworthy.

Grouped: the unit is the original photo, so an original and every augmented
copy of it are always on the same side of a fold. Stratified: each class's
originals are dealt over the folds in turn, so a fold scores
``floor(n_c / K)`` or ``ceil(n_c / K)`` originals of class c. A class with
fewer originals than folds (the sample's 2 holes with K = 5) is thereby spread
over as many folds as it has originals: it is scored in those, and trained on
in full in the others. A class with a single original cannot be both trained
on and scored: the plan refuses it, naming the class.

Files (``<plan_dir>`` = ``data/crossval/plan``): ``folds.csv`` with
``original_id,label,fold`` (fold = where the original is scored) and, per fold
k, ``fold_<k>/train/manifest.csv`` and ``fold_<k>/scored/manifest.csv`` in the
split manifests' format (paths point back at the ingested images).
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from textile_defects.data.manifest import MANIFEST_NAME, read_manifest, relative_to_manifest, resolve, write_manifest
from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_write_text
from textile_defects.utils.seeding import rng_for

log = logging.getLogger(__name__)

FOLDS_NAME = "folds.csv"
FOLDS_COLUMNS: tuple[str, ...] = ("original_id", "label", "fold")
PARTS: tuple[str, ...] = ("train", "scored")
"""The two manifests of a fold: its training originals and the originals it scores."""

MAX_LISTED = 20
"""Problems listed in one error before the rest are counted."""


def fold_manifest(plan_dir: Path, fold: int, part: str) -> Path:
    """``<plan_dir>/fold_<k>/<part>/manifest.csv``."""
    return Path(plan_dir) / f"fold_{fold}" / part / MANIFEST_NAME


def originals_by_label(rows: Iterable[Mapping[str, str]], source: str | Path) -> dict[str, str]:
    """``{original_id: label}`` of manifest rows; an original listed with two labels is a :class:`DataError`."""
    labels: dict[str, str] = {}
    for row in rows:
        previous = labels.setdefault(row["original_id"], row["label"])
        if previous != row["label"]:
            raise DataError(f"{source}: original {row['original_id']!r} is labelled both {previous!r} and {row['label']!r}.")
    return labels


def _class_sizes(labels: Mapping[str, str], classes: Sequence[str]) -> Counter[str]:
    return Counter(labels[original] for original in labels if labels[original] in classes)


def check_plannable(labels: Mapping[str, str], classes: Sequence[str], k: int, source: str | Path) -> None:
    """Refuse originals that cannot be cross-validated, listing every problem at once.

    Every label must be in ``classes``, and every class needs at least 2
    originals: one to train on while the other is scored.
    """
    problems: list[str] = []
    unknown = sorted(set(labels.values()) - set(classes))
    if unknown:
        problems.append(f"label(s) {unknown} are not in params 'classes' {list(classes)}")
    sizes = _class_sizes(labels, classes)
    for label in classes:
        if sizes[label] < 2:
            problems.append(
                f"class '{label}' has {sizes[label]} original(s); cross-validation needs at least 2 per class "
                "(one to train on while another is scored): add photos of it, or leave the class out of params 'classes'"
            )
    if k < 2:
        problems.append(f"{k} fold(s); cross-validation needs at least 2 (params crossval.folds)")
    if problems:
        raise DataError(f"{source}: cannot plan {k}-fold cross-validation:\n  - " + "\n  - ".join(problems))


def assign_folds(labels: Mapping[str, str], classes: Sequence[str], k: int, seed: int) -> dict[str, int]:
    """Map each original to the fold (0..k-1) that scores it.

    Per class (in ``classes`` order) the originals are sorted by id, shuffled
    with a generator seeded by ``(seed, class)`` and dealt to the folds in
    turn. The deal continues where the previous class stopped, so the folds
    differ in size by at most one original overall, and a class with fewer
    originals than folds lands in distinct folds.
    """
    check_plannable(labels, classes, k, "originals")
    by_class: dict[str, list[str]] = defaultdict(list)
    for original, label in labels.items():
        by_class[label].append(original)
    assignment: dict[str, int] = {}
    dealt = 0
    for label in classes:
        ordered = sorted(by_class[label])
        for position in rng_for(seed, "crossval", label).permutation(len(ordered)):
            assignment[ordered[position]] = dealt % k
            dealt += 1
    return assignment


def scored_in(assignment: Mapping[str, int], labels: Mapping[str, str], k: int) -> dict[str, list[int]]:
    """``{class: sorted folds scoring at least one of its originals}``, for logs and docs."""
    folds: dict[str, set[int]] = defaultdict(set)
    for original, fold in assignment.items():
        folds[labels[original]].add(fold)
    return {label: sorted(found) for label, found in sorted(folds.items())}


def log_spread(assignment: Mapping[str, int], labels: Mapping[str, str], classes: Sequence[str], k: int) -> None:
    """Say, per class, how many originals each fold scores; name the classes smaller than K."""
    sizes = _class_sizes(labels, classes)
    spread = scored_in(assignment, labels, k)
    for label in classes:
        per_fold = Counter(fold for original, fold in assignment.items() if labels[original] == label)
        counts = [per_fold[fold] for fold in range(k)]
        if sizes[label] < k:
            log.info(
                "class %s: %d originals < %d folds, so it is spread over folds %s (one original scored in each) "
                "and trained on in full in the others",
                label, sizes[label], k, spread.get(label, []),
            )
        else:
            log.info("class %s: %d originals, scored per fold %s", label, sizes[label], counts)
    totals = Counter(assignment.values())
    log.info("originals scored per fold: %s", [totals[fold] for fold in range(k)])


def check_plan(
    labels: Mapping[str, str],
    assignment: Mapping[str, int],
    classes: Sequence[str],
    k: int,
    training: Mapping[int, Collection[str]],
    scored: Mapping[int, Collection[str]],
) -> None:
    """Raise one :class:`DataError` listing every way the plan could bias or break the CV.

    ``labels`` is every ingested original with its class; ``assignment`` the
    scoring fold of each; ``training[k]`` / ``scored[k]`` the original ids
    that fold k trains on / scores, as its manifests list them (for training,
    include the ids of augmented copies too: a copy carries its original's id).
    Checks: every original is scored exactly once and in the fold the plan
    says; no original (nor copy) is both trained on and scored in a fold;
    every class has at least one training original in every fold.
    """
    problems: list[str] = []
    extra = sorted(set(assignment) - set(labels))
    missing = sorted(set(labels) - set(assignment))
    if extra:
        problems.append(f"plan lists originals not in the ingested manifest: {extra[:10]}")
    if missing:
        problems.append(f"ingested originals with no fold in the plan: {missing[:10]}")
    bad_folds = sorted({fold for fold in assignment.values() if not 0 <= fold < k})
    if bad_folds:
        problems.append(f"fold number(s) {bad_folds} outside 0..{k - 1}")
    if set(training) != set(range(k)) or set(scored) != set(range(k)):
        problems.append(f"expected manifests for folds 0..{k - 1}; got train {sorted(training)}, scored {sorted(scored)}")
    times_scored = Counter(original for fold in scored for original in scored[fold])
    twice = sorted(original for original, count in times_scored.items() if count > 1)
    never = sorted(set(labels) - set(times_scored))
    if twice:
        problems.append(f"originals scored in more than one fold: {twice[:10]}")
    if never:
        problems.append(f"originals scored in no fold: {never[:10]}")
    for fold in sorted(set(training) & set(scored)):
        trained, held_out = set(training[fold]), set(scored[fold])
        leaked = sorted(trained & held_out)
        if leaked:
            problems.append(f"fold {fold}: originals both trained on and scored (leakage): {leaked[:10]}")
        misplaced = sorted(original for original in held_out if assignment.get(original) != fold)
        if misplaced:
            problems.append(f"fold {fold}: scores originals the plan puts in another fold: {misplaced[:10]}")
        unplanned = sorted(original for original in trained if original not in labels)
        if unplanned:
            problems.append(f"fold {fold}: trains on originals not in the ingested manifest: {unplanned[:10]}")
        present = {labels[original] for original in trained if original in labels}
        absent = [label for label in classes if label not in present]
        if absent:
            problems.append(f"fold {fold}: no training original of class(es) {absent}")
    if problems:
        raise DataError("the cross-validation fold plan fails its checks:\n  - " + "\n  - ".join(problems))


def plan_manifests(
    rows: Sequence[Mapping[str, str]], source_manifest: Path, plan_dir: Path, assignment: Mapping[str, int], k: int
) -> dict[tuple[int, str], list[dict[str, str]]]:
    """Rows of every fold manifest, ``{(fold, part): rows}``, paths re-based onto those manifests.

    Images are not copied: each row points back at the ingested file. The
    ``split`` column says ``train`` or ``scored``.
    """
    manifests: dict[tuple[int, str], list[dict[str, str]]] = {(fold, part): [] for fold in range(k) for part in PARTS}
    for row in rows:
        for fold in range(k):
            part = "scored" if assignment[row["original_id"]] == fold else "train"
            new_row = dict(row)
            new_row["split"] = part
            new_row["path"] = relative_to_manifest(fold_manifest(plan_dir, fold, part), resolve(source_manifest, row))
            manifests[(fold, part)].append(new_row)
    return manifests


def folds_csv(assignment: Mapping[str, int], labels: Mapping[str, str]) -> str:
    """``folds.csv`` text: one row per original, sorted by id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FOLDS_COLUMNS)
    for original in sorted(assignment):
        writer.writerow([original, labels[original], assignment[original]])
    return buffer.getvalue()


def read_folds(path: Path, classes: Sequence[str] | None = None) -> tuple[dict[str, int], dict[str, str]]:
    """``folds.csv`` as ``({original_id: fold}, {original_id: label})``.

    Every problem (an original listed twice, a fold that is not a number, a label
    outside ``classes`` when given) is listed in one DataError.
    """
    if not path.is_file():
        raise DataError(f"{path}: fold plan not found; run `dvc repro crossval/dvc.yaml`.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FOLDS_COLUMNS:
            raise DataError(f"{path}: expected columns {list(FOLDS_COLUMNS)}, got {reader.fieldnames}.")
        rows = list(reader)
    assignment: dict[str, int] = {}
    labels: dict[str, str] = {}
    problems = [] if rows else ["no rows"]
    for line, row in enumerate(rows, start=2):
        original = row["original_id"]
        if original in assignment:
            problems.append(f"line {line}: original {original!r} is listed twice")
        elif classes is not None and row["label"] not in classes:
            problems.append(f"line {line}: label {row['label']!r} of {original!r} is not in params 'classes' {list(classes)}")
        elif not row["fold"].isdigit():
            problems.append(f"line {line}: fold {row['fold']!r} of {original!r} is not a fold number")
        else:
            assignment[original] = int(row["fold"])
            labels[original] = row["label"]
    raise_problems(path, problems, "rewrite the fold plan (dvc repro crossval/dvc.yaml)")
    return assignment, labels


def raise_problems(source: Path, problems: Sequence[str], action: str) -> None:
    """One DataError naming ``source``, listing the first :data:`MAX_LISTED` ``problems`` and counting the rest."""
    if not problems:
        return
    listed = "\n  ".join(problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise DataError(f"{source}: {len(problems)} problem(s); {action}:\n  {listed}{more}")


def write_plan(
    plan_dir: Path,
    assignment: Mapping[str, int],
    labels: Mapping[str, str],
    manifests: Mapping[tuple[int, str], Sequence[Mapping[str, str]]],
) -> None:
    """Write ``folds.csv`` and every fold manifest under ``plan_dir`` (a fresh, staging folder)."""
    atomic_write_text(Path(plan_dir) / FOLDS_NAME, folds_csv(assignment, labels))
    for (fold, part), part_rows in manifests.items():
        write_manifest(fold_manifest(plan_dir, fold, part), part_rows)


def check_plan_files(
    plan_dir: Path,
    ingested_manifest: Path,
    classes: Sequence[str],
    k: int,
    training_manifests: Mapping[int, Sequence[Path]] | None = None,
) -> tuple[dict[str, int], dict[str, str]]:
    """Run :func:`check_plan` on the files: the plan, the ingested manifest and each fold's manifests.

    ``training_manifests[k]`` adds manifests whose images fold k trains on
    (its augmented set), so copies are checked as well as originals.
    Returns the plan as :func:`read_folds` does.
    """
    assignment, planned_labels = read_folds(Path(plan_dir) / FOLDS_NAME)
    ingested = read_manifest(ingested_manifest)
    labels = originals_by_label(ingested, ingested_manifest)
    relabelled = sorted(o for o in planned_labels if o in labels and planned_labels[o] != labels[o])
    if relabelled:
        raise DataError(f"{plan_dir}: the plan labels {relabelled[:10]} differently from {ingested_manifest}; re-run cv_plan.")
    training: dict[int, set[str]] = {}
    scored: dict[int, set[str]] = {}
    for fold in range(k):
        paths = [fold_manifest(plan_dir, fold, "train"), *(training_manifests or {}).get(fold, ())]
        training[fold] = {row["original_id"] for path in paths for row in read_manifest(path)}
        scored[fold] = {row["original_id"] for row in read_manifest(fold_manifest(plan_dir, fold, "scored"))}
    check_plan(labels, assignment, classes, k, training, scored)
    return assignment, labels
