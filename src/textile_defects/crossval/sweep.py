"""A queued sweep of training settings, each scored by the cross-validation.

A sweep file (``crossval/sweeps/*.yaml``) names a variant, the training
seeds and a queue of runs; each run is a set of keys laid over
``train_<variant>`` and ``crossval.train_overrides``, exactly as ``cv_train``
lays the overrides, and it trains on the CV's own augmented folds
(``data/crossval/fold_<k>/augmented``, from ``dvc repro crossval/dvc.yaml``)
and scores the originals each fold holds out. Probe rows score the
frozen-feature reference at other input sizes. Every run lands in the same
table, with the same intervals, as ``metrics/crossval.json``.

Runs are resumable: a (run, fold, seed) whose score file exists and whose
recorded settings match is not retrained, so a queue can be extended, or an
interrupted sweep restarted, at the cost of the new work only. Sweeps are for
choosing defaults, not part of ``dvc repro``: their figures then come back as
the CV of the chosen defaults, which ``dvc repro crossval/dvc.yaml`` computes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from textile_defects.crossval.compare import comparison_table
from textile_defects.crossval.config import VARIANTS, CrossvalConfig, fold_training_section
from textile_defects.crossval.figures import model_report
from textile_defects.crossval.folds import FOLDS_NAME, fold_manifest, read_folds
from textile_defects.crossval.scores import load_scores, score_file_name, write_scores
from textile_defects.errors import ConfigError, DataError
from textile_defects.experiments.recipe import read_recipe
from textile_defects.models.config import read_size
from textile_defects.training.config import TrainConfig
from textile_defects.utils.atomic import atomic_write_json
from textile_defects.utils.params import SectionReader, available_cores

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One queued setting: a fine-tuned run (``overrides``) or a probe at ``probe_input_size``."""

    name: str
    note: str
    overrides: Mapping[str, Any]
    probe_input_size: tuple[int, int] | None = None
    recipe: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The variant's section of the run's recipe (``recipe: experiments/report.yaml``), laid under
    crossval.train_overrides and the run's own overrides (which scale it to the CPU)."""

    @property
    def is_probe(self) -> bool:
        return self.probe_input_size is not None


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    variant: str
    seeds: tuple[int, ...]
    runs: tuple[SweepRun, ...]

    @classmethod
    def read(cls, path: Path) -> Sweep:
        """Parse and check a sweep file; every problem at once in one ConfigError."""
        if not path.is_file():
            raise ConfigError(f"{path}: sweep file not found.")
        reader = SectionReader(yaml.safe_load(path.read_text(encoding="utf-8")), path.stem)
        variant = reader.choice("variant", VARIANTS)
        seeds = reader.int_list("seeds", minimum=0)
        entries = reader.raw("runs")
        runs: list[SweepRun] = []
        if not isinstance(entries, list) or not entries:
            reader.problem("runs", entries, "a non-empty list of {name, note, overrides} or {name, note, probe_input_size}")
            entries = []
        for index, entry in enumerate(entries):
            run = SectionReader(entry, f"{path.stem}.runs[{index}]")
            name = run.string("name")
            note = run.string("note")
            if "probe_input_size" in (entry if isinstance(entry, Mapping) else {}):
                runs.append(SweepRun(name, note, {}, _probe_size(run)))
            else:
                overrides = run.raw("overrides")
                if not isinstance(overrides, Mapping) or "seed" in overrides:
                    run.problem("overrides", overrides, "a mapping of training keys, without seed (seeds: sets it)")
                    overrides = {}
                runs.append(SweepRun(name, note, dict(overrides), recipe=_recipe_section(run, variant)))
            run.finish_into(reader)
        names = [run.name for run in runs]
        if len(set(names)) != len(names):
            reader.problem("runs", names, "distinct names (each names its folder)")
        reader.finish()
        return cls(name=path.stem, variant=variant, seeds=tuple(seeds), runs=tuple(runs))


def _recipe_section(run: SectionReader, variant: str) -> dict[str, Any]:
    """``recipe``: a recipe file (experiments/*.yaml) whose ``train_<variant>`` keys the run starts from; {} without."""
    path = run.raw("recipe", None)
    if path is None:
        return {}
    try:
        recipe = read_recipe(Path(path))
    except ConfigError as error:
        run.problem("recipe", path, f"a readable recipe file ({error})")
        return {}
    return dict(recipe.get(f"train_{variant}") or {})


def _probe_size(run: SectionReader) -> tuple[int, int] | None:
    """``probe_input_size``: one side (a square) or ``[W, H]``, each >= 32 px, as (W, H)."""
    return read_size(run, "probe_input_size", minimum=32)


def run_settings(params: Mapping[str, Any], sweep: Sweep, run: SweepRun, seed: int) -> dict[str, Any]:
    """The complete training section one (run, seed) trains with, validated (a ConfigError names the run)."""
    crossval = CrossvalConfig.from_section(params["crossval"])
    name = f"train_{sweep.variant}"
    # The recipe first, then what the CV must force (selection: last), then the run's own scale.
    settings = fold_training_section({**params[name], **run.recipe}, {**crossval.train_overrides, **run.overrides}, seed)
    TrainConfig.from_section(settings, f"{name} + crossval.train_overrides + {sweep.name}:{run.name}", encoder=str(params["encoder"]))
    return settings


def _fingerprint(params: Mapping[str, Any], settings: Mapping[str, Any] | None, probe_input_size: Any) -> dict[str, Any]:
    # What a score file depends on besides the fold data: retrain when any of it changes.
    return {
        "encoder": params["encoder"], "weights": params["weights"], "classes": list(params["classes"]),
        "settings": dict(settings) if settings is not None else None,
        "probe": {**params["crossval"]["probe"], "input_size": probe_input_size} if probe_input_size else None,
    }  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _Job:
    run: str
    variant: str
    fold: int
    seed: int | None
    settings: dict[str, Any] | None
    out_dir: str
    threads: int


def _train_and_score(job: _Job, params: Mapping[str, Any], plan_dir: str, fold_dir: str) -> float:
    """Train one fold model and score the originals its fold holds out; returns seconds taken (in a worker)."""
    import torch

    from textile_defects.crossval.inference_adapter import score_fold_model
    from textile_defects.crossval.training_adapter import train_fold_model
    from textile_defects.runtime.allocator import keep_freed_memory

    keep_freed_memory()  # a spawned worker does not go through run_stage
    torch.set_num_threads(job.threads)
    start = time.perf_counter()
    out = Path(job.out_dir)
    variant = job.variant
    crossval = CrossvalConfig.from_section(params["crossval"])
    model_path = out / "models" / f"{variant}_seed{job.seed}_fold{job.fold}.pt"
    train_fold_model(
        job.settings or {}, f"train_{variant} ({job.run})", variant=variant,
        encoder=str(params["encoder"]), weights=str(params["weights"]), classes=tuple(params["classes"]),
        good_class=str(params["good_class"]),
        train_manifest=Path(fold_dir.format(fold=job.fold)) / "manifest.csv",
        model_path=model_path, history_path=out / "history" / f"{variant}_seed{job.seed}_fold{job.fold}.csv",
    )  # fmt: skip
    score_fold_model(
        model_path, fold_manifest(Path(plan_dir), job.fold, "scored"), job.fold, tuple(params["classes"]),
        out / "scores" / score_file_name(variant, job.fold, job.seed), batch_size=crossval.batch_size, device=crossval.device,
    )  # fmt: skip
    model_path.unlink()  # the score is the product; 5 checkpoints per run would only fill the disk
    return time.perf_counter() - start


def _probe_scores(params: Mapping[str, Any], run: SweepRun, manifest: Path, plan_dir: Path, out: Path) -> float:
    from textile_defects.crossval.inference_adapter import encoder_features
    from textile_defects.crossval.probe import probe_probabilities
    from textile_defects.data.manifest import read_manifest, resolve

    start = time.perf_counter()
    crossval = CrossvalConfig.from_section(params["crossval"])
    classes = tuple(params["classes"])
    rows = sorted(read_manifest(manifest), key=lambda row: row["original_id"])
    encoded = encoder_features(
        str(params["encoder"]), str(params["weights"]), [resolve(manifest, row) for row in rows],
        batch_size=crossval.batch_size, device=crossval.device, input_size=run.probe_input_size,
    )  # fmt: skip
    features = {row["original_id"]: vector for row, vector in zip(rows, encoded, strict=True)}
    assignment, labels = read_folds(plan_dir / FOLDS_NAME)
    for fold in crossval.folds:
        train = [row for row in rows if assignment[row["original_id"]] != fold]
        scored = [row for row in rows if assignment[row["original_id"]] == fold]
        probabilities = probe_probabilities(features, train, features, scored, classes, crossval.probe, source=str(manifest))
        write_scores(
            out / "scores" / score_file_name("probe", fold), fold, [row["original_id"] for row in scored],
            [labels[row["original_id"]] for row in scored], probabilities, classes,
        )  # fmt: skip
    return time.perf_counter() - start


def run_sweep(
    sweep: Sweep,
    params: Mapping[str, Any],
    *,
    manifest: Path,
    plan_dir: Path,
    fold_dir: str,
    out_dir: Path,
    jobs: int,
    only: Sequence[str] | None = None,
) -> None:
    """Work through the queue: every (run, fold, seed) not already scored with the same settings.

    ``fold_dir`` holds ``{fold}`` (e.g. ``data/crossval/fold_{fold}/augmented``).
    ``jobs`` processes train side by side, each with cores // jobs threads.
    Seconds per fold model are recorded in each run's ``timing.json``.
    """
    crossval = CrossvalConfig.from_section(params["crossval"])
    missing = [str(Path(fold_dir.format(fold=fold))) for fold in crossval.folds if not (Path(fold_dir.format(fold=fold)) / "manifest.csv").is_file()]
    if missing or not (plan_dir / FOLDS_NAME).is_file():
        raise DataError(
            f"the CV's fold plan and augmented folds are needed ({plan_dir / FOLDS_NAME}, {', '.join(missing) or 'folds'}); "
            "run `dvc repro crossval/dvc.yaml` (or `dvc pull` them) first."
        )
    selected = [run for run in sweep.runs if only is None or run.name in only]
    unknown = sorted(set(only or ()) - {run.name for run in sweep.runs})
    if unknown:
        raise ConfigError(f"{sweep.name}: no run named {unknown}; runs: {[run.name for run in sweep.runs]}")
    threads = max(1, available_cores() // max(1, jobs))
    pending: list[_Job] = []
    for run in selected:
        run_dir = out_dir / run.name
        if run.is_probe:
            fingerprint = _fingerprint(params, None, list(run.probe_input_size or ()))
            if _is_current(run_dir, fingerprint, [score_file_name("probe", fold) for fold in crossval.folds], run_dir / "scores"):
                continue
            seconds = _probe_scores(params, run, manifest, plan_dir, run_dir)
            _record(run_dir, fingerprint, {"probe": seconds})
            continue
        for seed in sweep.seeds:
            settings = run_settings(params, sweep, run, seed)
            fingerprint = _fingerprint(params, settings, None)
            files = [score_file_name(sweep.variant, fold, seed) for fold in crossval.folds]
            if _is_current(run_dir / f"seed{seed}", fingerprint, files, run_dir / "scores"):
                continue
            for fold in crossval.folds:
                pending.append(_Job(run.name, sweep.variant, fold, seed, settings, str(run_dir), threads))
    log.info("sweep %s: %d fold model(s) to train, %d at a time (%d thread(s) each)", sweep.name, len(pending), jobs, threads)
    timings: dict[tuple[str, int | None], dict[int, float]] = {}
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        futures = {pool.submit(_train_and_score, job, params, str(plan_dir), fold_dir): job for job in pending}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            seconds = future.result()  # a failed model stops the sweep with its own error
            timings.setdefault((job.run, job.seed), {})[job.fold] = seconds
            log.info("sweep %s: %s seed %s fold %d done in %.0f s", sweep.name, job.run, job.seed, job.fold, seconds)
            if len(timings[(job.run, job.seed)]) == len(crossval.folds):
                per_fold = {f"fold{fold}": value for fold, value in sorted(timings[(job.run, job.seed)].items())}
                _record(out_dir / job.run / f"seed{job.seed}", _fingerprint(params, job.settings, None), per_fold)


def _is_current(marker: Path, fingerprint: Mapping[str, Any], files: Sequence[str], scores_dir: Path) -> bool:
    """Whether ``marker/settings.json`` records ``fingerprint`` and every score file is there."""
    record = marker / "settings.json"
    if not record.is_file():
        return False
    same = json.loads(record.read_text(encoding="utf-8")) == json.loads(json.dumps(fingerprint))
    return same and all((scores_dir / name).is_file() for name in files)


def _record(marker: Path, fingerprint: Mapping[str, Any], seconds: Mapping[str, float]) -> None:
    atomic_write_json(marker / "timing.json", {"seconds": {key: round(value, 1) for key, value in seconds.items()}})
    # Written last: its presence with matching contents is what marks the work done.
    atomic_write_json(marker / "settings.json", fingerprint)


def sweep_report(sweep: Sweep, params: Mapping[str, Any], *, plan_dir: Path, out_dir: Path) -> tuple[dict[str, Any], str]:
    """Every finished run's CV block (as in ``metrics/crossval.json``) and the Markdown table of them.

    Rows keep the queue's order; unfinished runs show dashes. The verdict
    column compares each row with the best F1 macro, within noise or beyond.
    """
    crossval = CrossvalConfig.from_section(params["crossval"])
    classes, good_class = tuple(params["classes"]), str(params["good_class"])
    blocks: dict[str, dict[str, Any] | None] = {}
    notes: dict[str, str] = {}
    for run in sweep.runs:
        run_dir = out_dir / run.name
        model = "probe" if run.is_probe else sweep.variant
        markers = [run_dir] if run.is_probe else [run_dir / f"seed{seed}" for seed in sweep.seeds]
        if not all((marker / "settings.json").is_file() for marker in markers):
            blocks[run.name] = None
            notes[run.name] = run.note + " (not run yet)"
            continue
        pooled = load_scores(run_dir / "scores", plan_dir / FOLDS_NAME, classes, models=[model],
                             seeds=None if run.is_probe else sweep.seeds)  # fmt: skip
        blocks[run.name] = model_report(
            pooled[model], classes, good_class, confidence=crossval.report.confidence,
            resamples=crossval.report.bootstrap_resamples, seed=crossval.report.bootstrap_seed,
        )  # fmt: skip
        seconds = [value for marker in markers for value in json.loads((marker / "timing.json").read_text())["seconds"].values()]
        cost = f"{np.mean(seconds):.0f} s" + ("" if run.is_probe else " per fold model")
        notes[run.name] = f"{run.note} ({cost})"
    table = comparison_table(blocks, label="run", notes=notes, notes_header="setting (time)")
    return blocks, table
