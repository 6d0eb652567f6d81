"""The evaluate stage's work: score every model on every set, then write all outputs.

Everything is computed before anything is written, and each output is written
atomically, so a failure midway leaves the previous outputs as they were.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textile_defects.errors import ConfigError
from textile_defects.evaluation.config import EvaluateConfig
from textile_defects.evaluation.plots import confusion_png, misclassified_png, training_curves_png
from textile_defects.evaluation.report import confusion_csv, model_metrics
from textile_defects.evaluation.scoring import SetPredictions, score_manifest
from textile_defects.models.checkpoint import load_checkpoint
from textile_defects.runtime.devices import resolve_device
from textile_defects.stats.history import read_history
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json

log = logging.getLogger(__name__)

SET_TITLES = {"val_originals": "validation originals", "val": "augmented validation", "test": "test"}


@dataclasses.dataclass(frozen=True)
class ScoredModel:
    """One checkpoint's predictions on each set, and what its training stored about it."""

    sets: dict[str, SetPredictions]
    """``{set name: predictions}``."""
    good_class: str
    kept_epoch: int | None
    """The epoch the checkpoint holds (None for a checkpoint that does not say)."""
    selection: str | None
    """How that epoch was chosen: ``best_val`` or ``last``."""


def score_model(model_path: Path, set_manifests: Mapping[str, Path], config: EvaluateConfig) -> ScoredModel:
    """One checkpoint's predictions on each set, its good class and the epoch it holds."""
    model, meta = load_checkpoint(model_path, map_location="cpu")
    device = resolve_device(config.device)
    sets = {
        name: score_manifest(
            model, model.classes, model.config.image_size, f"{model_path.stem} {name}", manifest, device,
            batch_size=config.batch_size, workers=config.workers or None,
        )
        for name, manifest in set_manifests.items()
    }
    extra = meta.get("extra") or {}
    return ScoredModel(sets, meta["good_class"], extra.get("kept_epoch"), extra.get("selection"))


def _log_headline(stem: str, metrics: Mapping[str, Mapping[str, Any]]) -> None:
    """One line per set: the figures people look at first."""
    for name, figures in metrics.items():
        recall = figures["defect_vs_good"]["defect_recall"]
        log.info(
            "%s on %s (n=%d): accuracy %.3f, F1 macro %.3f, F1 weighted %.3f, defect recall %s [%.2f, %.2f]",
            stem, name, figures["n"], figures["accuracy"], figures["f1_macro"], figures["f1_weighted"],
            "n/a" if recall["value"] is None else f"{recall['value']:.3f}", recall["ci_low"], recall["ci_high"],
        )


def write_metrics(
    results: Mapping[str, Mapping[str, SetPredictions]],
    metrics: Mapping[str, Mapping[str, Any]],
    histories: Mapping[str, Path],
    metrics_dir: Path,
) -> None:
    """``<stem>.json`` per model, ``history/<stem>.csv`` and ``confusion/<stem>_<set>.csv``.

    ``metrics_dir`` also holds files committed by others, so model JSONs are
    written one by one; the ``history`` and ``confusion`` folders belong to
    this stage and are replaced whole (no stale file from an older run survives).
    """
    for stem, figures in metrics.items():
        atomic_write_json(metrics_dir / f"{stem}.json", figures)
    with atomic_output_dir(metrics_dir / "history") as folder:
        for stem, history in histories.items():
            (folder / f"{stem}.csv").write_bytes(history.read_bytes())
    with atomic_output_dir(metrics_dir / "confusion") as folder:
        for stem, sets in results.items():
            for name, predictions in sets.items():
                (folder / f"{stem}_{name}.csv").write_text(confusion_csv(predictions), encoding="utf-8")


def write_reports(
    results: Mapping[str, Mapping[str, SetPredictions]],
    histories: Mapping[str, Path],
    reports_dir: Path,
    config: EvaluateConfig,
    kept: Mapping[str, tuple[int | None, str | None]] | None = None,
) -> None:
    """PNGs for people: confusion matrices and misclassified grids per model and set, curves per model.

    ``kept`` gives each model's kept epoch and how it was chosen, marked on its curves.
    """
    with atomic_output_dir(reports_dir) as folder:
        for stem, sets in results.items():
            for name, predictions in sets.items():
                title = f"{stem}, {SET_TITLES.get(name, name)}"
                (folder / f"confusion_{stem}_{name}.png").write_bytes(
                    confusion_png(predictions.confusion_counts(), predictions.classes, f"{title} (n={len(predictions.y_true)})")
                )
                (folder / f"misclassified_{stem}_{name}.png").write_bytes(
                    misclassified_png(predictions, title, config.misclassified_max, config.thumb_width)
                )
            kept_epoch, selection = (kept or {}).get(stem, (None, None))
            curves = training_curves_png(
                read_history(histories[stem]), f"{stem}: training history", kept_epoch=kept_epoch, selection=selection
            )
            (folder / f"curves_{stem}.png").write_bytes(curves)


def evaluate_models(
    model_paths: Sequence[Path],
    set_manifests: Mapping[str, Path],
    history_paths: Sequence[Path],
    metrics_dir: Path,
    reports_dir: Path,
    config: EvaluateConfig,
) -> dict[str, dict[str, SetPredictions]]:
    """Score each model (named by its file stem) on each set and write every output.

    ``history_paths`` are the training histories, one per model, same order.
    Classes and the good class (defect vs good figures) come from each checkpoint.
    Returns ``{model stem: {set name: predictions}}``.
    """
    if len(model_paths) != len(history_paths):
        raise ConfigError(f"got {len(model_paths)} model(s) but {len(history_paths)} history file(s); pass one history per model, same order.")
    stems = [path.stem for path in model_paths]
    if len(set(stems)) != len(stems):
        raise ConfigError(f"model files must have distinct names (their stems name the outputs); got {stems}.")
    histories = dict(zip(stems, history_paths, strict=True))
    for history in history_paths:
        read_history(history)  # fail before the slow part, not after it
    scored = {path.stem: score_model(path, set_manifests, config) for path in model_paths}
    results = {stem: model.sets for stem, model in scored.items()}
    metrics = {stem: model_metrics(model.sets, model.good_class, config.confidence) for stem, model in scored.items()}
    for stem, figures in metrics.items():
        _log_headline(stem, figures)
    write_metrics(results, metrics, histories, metrics_dir)
    kept = {stem: (model.kept_epoch, model.selection) for stem, model in scored.items()}
    write_reports(results, histories, reports_dir, config, kept)
    return results
