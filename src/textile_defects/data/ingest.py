"""Ingest: a folder of labelled photos -> normalised PNGs, a manifest and a report.

Reads ``<raw_dir>/<class>/**/*.{jpg,jpeg,png}`` (suffixes in any letter case;
sub-folders of a class folder are read too). Writes, atomically, into
``out_dir``::

    manifest.csv                          one row per accepted photo
    images/<class>/<original_id>.png      8-bit RGB, upright, no metadata
    report.json                           accepted, rejected and why, warnings

Every file is checked before anything is decided, so one run lists every
problem. With ``on_error="stop"`` any problem fails the run (nothing is
written); with ``"skip"`` bad files are left out and listed in the report.
A class left with no usable photo fails the run in both modes: later stages
cannot split or learn a class they never see.

The source folder is only ever read.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textile_defects.data.images import (
    SUPPORTED_SUFFIXES,
    ImageProblem,
    NormalisedImage,
    has_supported_suffix,
    is_ignored_name,
    normalise_file,
)
from textile_defects.data.manifest import IMAGES_DIR, MANIFEST_NAME, sha256_bytes, write_manifest
from textile_defects.errors import ConfigError, DataError
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json
from textile_defects.utils.logs import progress
from textile_defects.utils.params import SectionReader

log = logging.getLogger(__name__)

ON_ERROR_CHOICES: tuple[str, ...] = ("stop", "skip")
REPORT_NAME = "report.json"
_ID_SEPARATOR = "__"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class IngestConfig:
    """The ``ingest`` section of params.yaml, validated, with the pipeline's ``classes`` (one folder each).

    ``min_width`` and ``min_height`` are the smallest accepted size in pixels,
    measured upright (after EXIF rotation); ``on_error`` is one of
    :data:`ON_ERROR_CHOICES` (see the module docstring).
    """

    raw_dir: str
    classes: tuple[str, ...]
    min_width: int
    min_height: int
    on_error: str

    @classmethod
    def from_section(cls, values: Any, classes: Any, path: str = "ingest") -> IngestConfig:
        """Check section ``path`` and the top-level ``classes``; one :class:`ConfigError` lists every problem."""
        reader = SectionReader(values, path)
        config = cls(
            raw_dir=reader.string("raw_dir"),
            classes=_folder_names(classes, reader),
            min_width=reader.integer("min_width", minimum=1),
            min_height=reader.integer("min_height", minimum=1),
            on_error=reader.choice("on_error", ON_ERROR_CHOICES),
        )
        reader.finish()
        return config


def _folder_names(classes: Any, reader: SectionReader) -> tuple[str, ...]:
    """``classes`` as folder names; anything else is one more problem for ``reader`` (a top-level key)."""
    if (
        isinstance(classes, list | tuple)
        and classes
        and all(isinstance(label, str) and label == Path(label).name and label != ".." for label in classes)
        and len(set(classes)) == len(classes)
    ):
        return tuple(classes)
    reader.problems.append(f"classes: got {classes!r}; expected a list of distinct folder names, e.g. [non_defect, hole]")
    return ()


@dataclass(frozen=True)
class Problem:
    """One finding about a file or folder.

    ``path`` is relative to the raw folder (POSIX); ``kind`` is a short
    machine-readable name; ``message`` says what is wrong and ``action`` what
    to do (empty for notes that need nothing).
    """

    path: str
    kind: str
    message: str
    action: str = ""

    def describe(self, raw_dir: Path) -> str:
        """One line for people: the path as given to ingest, what is wrong, what to do."""
        return f"{raw_dir / self.path}: {self.message}" + (f"; {self.action}" if self.action else "")


@dataclass(frozen=True)
class Candidate:
    """A file in a class folder with a supported suffix: to be decoded and checked."""

    label: str
    source_file: str
    original_id: str


@dataclass(frozen=True)
class Accepted:
    """A candidate that decoded, converted and passed the size check."""

    candidate: Candidate
    sha256: str
    width: int
    height: int
    source_format: str
    source_mode: str
    exif_orientation: int


@dataclass
class Scan:
    """What a walk over the raw folder found, before any file is decoded."""

    candidates: list[Candidate] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    folders: set[str] = field(default_factory=set)


@dataclass
class IngestReport:
    """The outcome of a run; :meth:`to_json` is what ``report.json`` holds."""

    raw_dir: str
    on_error: str
    accepted: list[Accepted]
    rejected: list[Problem]
    warnings: list[Problem]
    ignored: list[str]

    def per_class(self, classes: Sequence[str]) -> dict[str, int]:
        """Accepted photos per class, in ``classes`` order."""
        counts = Counter(item.candidate.label for item in self.accepted)
        return {label: counts.get(label, 0) for label in classes}

    def to_json(self, classes: Sequence[str]) -> dict[str, Any]:
        """A JSON-ready summary with no absolute paths or times, so reruns are byte-identical."""
        converted = [
            {
                "source_file": item.candidate.source_file,
                "source": f"{item.source_format} {item.source_mode}",
                "exif_orientation": item.exif_orientation,
            }
            for item in self.accepted
            if item.source_mode != "RGB" or item.exif_orientation != 1
        ]
        return {
            "raw_dir": self.raw_dir,
            "on_error": self.on_error,
            "accepted": {"total": len(self.accepted), "per_class": self.per_class(classes)},
            "rejected": [asdict(problem) for problem in self.rejected],
            "warnings": [asdict(problem) for problem in self.warnings],
            "ignored": self.ignored,
            "converted": converted,
        }


def ingest(config: IngestConfig, out_dir: str | os.PathLike[str]) -> IngestReport:
    """Validate and normalise every photo under ``config.raw_dir`` into ``out_dir``.

    ``config.classes`` are the folder names to read (in logit order). Raises
    :class:`ConfigError` for a missing ``raw_dir`` and :class:`DataError`
    listing every problem when the run cannot go on (see the module
    docstring); ``out_dir`` is then untouched.
    """
    classes, min_width, min_height = config.classes, config.min_width, config.min_height
    raw = _existing_raw_dir(config.raw_dir, classes)
    scan = scan_raw_dir(raw, classes)
    out = Path(out_dir)
    with atomic_output_dir(out) as staging:
        accepted, errors, warnings = _normalise_all(raw, scan.candidates, staging, min_width, min_height)
        kept, duplicate_errors, duplicate_warnings = _resolve_duplicates(accepted)
        for item in set(accepted) - set(kept):
            (staging / _image_path(item.candidate)).unlink()
        report = IngestReport(
            raw_dir=str(config.raw_dir),
            on_error=config.on_error,
            accepted=kept,
            rejected=sorted(scan.errors + errors + duplicate_errors, key=_problem_order),
            warnings=sorted(scan.warnings + warnings + duplicate_warnings, key=_problem_order),
            ignored=sorted(scan.ignored),
        )
        _stop_if_unusable(raw, out, report, _empty_classes(report, classes, scan.folders))
        write_manifest(staging / MANIFEST_NAME, [_manifest_row(item) for item in kept])
        atomic_write_json(staging / REPORT_NAME, report.to_json(classes))
    _log_summary(raw, out, report, classes)
    return report


def _existing_raw_dir(raw_dir: str | os.PathLike[str] | None, classes: Sequence[str]) -> Path:
    """``raw_dir`` as a path, or a :class:`ConfigError` saying how to point it at the photos."""
    how = (
        f"point it at a folder with one sub-folder per class ({', '.join(classes)}), "
        "e.g. `dvc exp run -S ingest.raw_dir=/path/to/photos`"
    )
    if not raw_dir:
        raise ConfigError(f"ingest.raw_dir is not set; {how}.")
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise ConfigError(
            f"ingest.raw_dir = {str(raw_dir)!r}: no such folder (looked in {raw.absolute()}); {how}. "
            "If it is a pipeline output (the built-in sample is), `dvc repro` creates it."
        )
    return raw


def scan_raw_dir(raw_dir: Path, classes: Sequence[str]) -> Scan:
    """Walk ``raw_dir`` (reading names only) and sort what is there into candidates and findings."""
    scan = Scan()
    for entry in sorted(raw_dir.iterdir(), key=lambda path: path.name):
        name = entry.name
        if is_ignored_name(name):
            scan.ignored.append(name)
            log.debug("ignoring hidden or system entry %s", entry)
        elif entry.is_dir() and name in classes:
            scan.folders.add(name)
            _scan_class_folder(raw_dir, name, scan)
        elif entry.is_dir():
            scan.errors.append(_unknown_folder(raw_dir, name, classes))
        elif has_supported_suffix(name):
            scan.errors.append(
                Problem(
                    name,
                    "outside_class_folder",
                    "is an image outside any class folder, so it has no label",
                    "move it into the folder of its class",
                )
            )
        else:
            scan.warnings.append(Problem(name, "outside_class_folder", "is not in a class folder; ignored"))
    return scan


def _scan_class_folder(raw_dir: Path, label: str, scan: Scan) -> None:
    """Add the class folder's supported files as candidates; flag the others."""
    supported: list[str] = []
    for source_file in _files_under(raw_dir, label, scan.ignored):
        if has_supported_suffix(source_file):
            supported.append(source_file)
        else:
            suffix = Path(source_file).suffix or "(no suffix)"
            scan.errors.append(
                Problem(
                    source_file,
                    "unsupported_format",
                    f"has unsupported file type {suffix}",
                    f"convert it to one of {', '.join(SUPPORTED_SUFFIXES)} (any letter case), "
                    "or move it out of the class folder",
                )
            )
    ids = assign_original_ids(label, supported)
    scan.candidates.extend(Candidate(label, source_file, ids[source_file]) for source_file in supported)


def _files_under(raw_dir: Path, folder: str, ignored: list[str]) -> list[str]:
    """Files below ``raw_dir/folder`` as sorted POSIX paths relative to ``raw_dir``.

    Hidden and system entries are appended to ``ignored`` and not descended into.
    """
    found: list[str] = []
    for current, dirnames, filenames in os.walk(raw_dir / folder):
        relative = Path(current).relative_to(raw_dir)
        for name in sorted(dirnames + filenames):
            if is_ignored_name(name):
                ignored.append((relative / name).as_posix())
                log.debug("ignoring hidden or system entry %s", Path(current) / name)
        dirnames[:] = sorted(name for name in dirnames if not is_ignored_name(name))
        found.extend((relative / name).as_posix() for name in filenames if not is_ignored_name(name))
    return sorted(found)


def _unknown_folder(raw_dir: Path, name: str, classes: Sequence[str]) -> Problem:
    count = len(_files_under(raw_dir, name, []))
    lowered = {label.lower(): label for label in classes}
    guess = lowered.get(name.lower()) or next(iter(difflib.get_close_matches(name, classes, n=1)), None)
    hint = f"rename it to '{guess}' if that is its class, or " if guess else "rename it to its class, "
    return Problem(
        name,
        "unknown_class_folder",
        f"is not a class folder ({count} file(s) not read); known classes: {', '.join(classes)}",
        f"{hint}move its photos into the right class folder, or add the class to `classes` in params.yaml",
    )


def assign_original_ids(label: str, source_files: Sequence[str]) -> dict[str, str]:
    """Stable, file-system-safe, unique ids: ``<label>__<slug of the path inside the class folder>``.

    The slug keeps ASCII letters, digits, ``.``, ``_`` and ``-`` (accents are
    stripped, anything else becomes ``_``). Files whose slugs collide,
    compared case-insensitively so that case-insensitive file systems cannot
    merge them (``a.jpg`` and ``a.png``; ``A.png`` and ``a.png``), all get a
    suffix from the hash of their path: the same files always get the same ids.
    """
    slugs = {source_file: f"{label}{_ID_SEPARATOR}{_slug(_stem_in_class(source_file))}" for source_file in source_files}
    taken = Counter(slug.casefold() for slug in slugs.values())
    return {
        source_file: slug if taken[slug.casefold()] == 1 else f"{slug}-{_path_hash(source_file)}"
        for source_file, slug in slugs.items()
    }


def _path_hash(source_file: str) -> str:
    return hashlib.sha256(source_file.encode("utf-8")).hexdigest()[:8]


def _stem_in_class(source_file: str) -> str:
    """``hole/batch 1/x.JPG`` -> ``batch 1/x``."""
    inside = Path(source_file).relative_to(Path(source_file).parts[0])
    return inside.with_suffix("").as_posix()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE_ID_CHARS.sub("_", ascii_text).strip("._-") or "image"


def _image_path(candidate: Candidate) -> str:
    return f"{IMAGES_DIR}/{candidate.label}/{candidate.original_id}.png"


def _normalise_all(
    raw_dir: Path, candidates: Sequence[Candidate], staging: Path, min_width: int, min_height: int
) -> tuple[list[Accepted], list[Problem], list[Problem]]:
    """Decode, check and write every candidate; returns (accepted, errors, warnings)."""
    accepted: list[Accepted] = []
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for candidate in progress(candidates, desc="ingest", unit="file"):
        try:
            image = normalise_file(raw_dir / candidate.source_file)
        except ImageProblem as problem:
            errors.append(Problem(candidate.source_file, problem.kind, problem.message, problem.action))
            continue
        warnings.extend(Problem(candidate.source_file, "note", note) for note in image.notes)
        if image.width < min_width or image.height < min_height:
            errors.append(_too_small(candidate, image, min_width, min_height))
            continue
        target = staging / _image_path(candidate)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Plain write: the whole staging folder is swapped in atomically at the end.
        target.write_bytes(image.png_bytes)
        accepted.append(
            Accepted(
                candidate=candidate,
                sha256=sha256_bytes(image.png_bytes),
                width=image.width,
                height=image.height,
                source_format=image.source_format,
                source_mode=image.source_mode,
                exif_orientation=image.exif_orientation,
            )
        )
    return accepted, errors, warnings


def _too_small(candidate: Candidate, image: NormalisedImage, min_width: int, min_height: int) -> Problem:
    return Problem(
        candidate.source_file,
        "too_small",
        f"is {image.width}x{image.height} px, below the minimum {min_width}x{min_height} "
        "(ingest.min_width x ingest.min_height)",
        "use the full-resolution photo, or lower the minimum in params.yaml",
    )


def _resolve_duplicates(accepted: Sequence[Accepted]) -> tuple[list[Accepted], list[Problem], list[Problem]]:
    """Group identical pictures (same normalised PNG bytes); returns (kept, errors, warnings).

    Within one class the copy with the shortest ``source_file`` (then the
    first in sort order) is kept, so ``x.png`` wins over ``x copy.png`` and
    ``x (1).png``; the rest are dropped with a warning. A picture under two
    classes has an ambiguous label: every copy is an error.
    """
    groups: dict[str, list[Accepted]] = defaultdict(list)
    for item in accepted:
        groups[item.sha256].append(item)
    kept: list[Accepted] = []
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for group in groups.values():
        group.sort(key=lambda item: (len(item.candidate.source_file), item.candidate.source_file))
        labels = sorted({item.candidate.label for item in group})
        if len(labels) > 1:
            for item in group:
                others = ", ".join(other.candidate.source_file for other in group if other is not item)
                errors.append(
                    Problem(
                        item.candidate.source_file,
                        "cross_class_duplicate",
                        f"is the same picture as {others} (classes {', '.join(labels)}), so its label is ambiguous",
                        "keep it only in the folder of its true class and delete the other copies",
                    )
                )
            continue
        kept.append(group[0])
        warnings.extend(
            Problem(
                item.candidate.source_file,
                "duplicate_removed",
                f"is an exact duplicate of {group[0].candidate.source_file}; left out, that one is kept",
                "delete the copy from the raw folder to silence this warning",
            )
            for item in group[1:]
        )
    return sorted(kept, key=lambda item: item.candidate.source_file), errors, warnings


def _empty_classes(report: IngestReport, classes: Sequence[str], folders: set[str]) -> list[Problem]:
    """A problem for each class with no accepted photo, saying why."""
    problems = []
    for label, count in report.per_class(classes).items():
        if count:
            continue
        if label not in folders:
            why = "has no folder"
        elif any(problem.path.startswith(f"{label}/") for problem in report.rejected):
            why = "has no usable photo (every file in it was rejected)"
        else:
            why = "holds no photos"
        problems.append(
            Problem(
                label,
                "empty_class",
                f"class '{label}' {why}",
                f"add at least one photo of '{label}', or remove it from `classes` in params.yaml",
            )
        )
    return problems


def _stop_if_unusable(raw_dir: Path, out_dir: Path, report: IngestReport, empty_classes: list[Problem]) -> None:
    """Raise :class:`DataError` listing every problem when the run must not produce output."""
    if empty_classes:
        lines = [f"ingest: the photos in {raw_dir} cannot be used (this stops the run whatever ingest.on_error says):"]
        lines += [f"  - {problem.describe(raw_dir)}" for problem in empty_classes]
        if report.rejected:
            lines.append("Other problems found:")
            lines += [f"  - {problem.describe(raw_dir)}" for problem in report.rejected]
        raise DataError("\n".join(lines))
    if report.rejected and report.on_error == "stop":
        lines = [
            f"ingest: {len(report.rejected)} problem(s) in {raw_dir} (ingest.on_error=stop, so nothing was written):"
        ]
        lines += [f"  - {problem.describe(raw_dir)}" for problem in report.rejected]
        lines.append(
            "Fix them, or set ingest.on_error=skip to leave these files out "
            f"(they are then listed in {out_dir / REPORT_NAME})."
        )
        raise DataError("\n".join(lines))


def _manifest_row(item: Accepted) -> dict[str, object]:
    return {
        "path": _image_path(item.candidate),
        "label": item.candidate.label,
        "original_id": item.candidate.original_id,
        "sha256": item.sha256,
        "width": item.width,
        "height": item.height,
        "source_file": item.candidate.source_file,
    }


def _problem_order(problem: Problem) -> tuple[str, str]:
    return problem.path, problem.kind


def _log_summary(raw_dir: Path, out_dir: Path, report: IngestReport, classes: Sequence[str]) -> None:
    per_class = ", ".join(f"{label} {count}" for label, count in report.per_class(classes).items())
    duplicates = sum(problem.kind == "duplicate_removed" for problem in report.warnings)
    log.info(
        "ingested %d photo(s) from %s into %s (%s); %d rejected, %d duplicate(s) removed, "
        "%d other warning(s), %d hidden file(s) ignored",
        len(report.accepted),
        raw_dir,
        out_dir,
        per_class,
        len(report.rejected),
        duplicates,
        len(report.warnings) - duplicates,
        len(report.ignored),
    )
    for problem in report.rejected:
        log.warning("skipped %s", problem.describe(raw_dir))
    for problem in report.warnings:
        log.warning("%s", problem.describe(raw_dir))
