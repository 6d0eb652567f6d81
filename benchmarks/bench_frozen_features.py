"""Benchmark: a frozen-encoder training run with features cached once against recomputed every epoch.

Both are the stage's own ``fit`` with the params section's settings (its
epochs, all frozen: ``unfreeze_epoch`` is set to ``epochs``), on the same
decoded images, alternating so that machine load affects both alike. Prints
each run's seconds (best of ``--rounds``), the ratio, and how far apart the
two runs' training losses end (the last float bits only).

    .venv/bin/python benchmarks/bench_frozen_features.py                    # params.yaml, train_baseline
    .venv/bin/python benchmarks/bench_frozen_features.py --weights none --images 32 --rounds 1
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader, RandomSampler

from bench_train import sample_manifest
from textile_defects.data.loading import CachedImageDataset, originals_per_class
from textile_defects.models.network import build_model
from textile_defects.runtime.allocator import keep_freed_memory
from textile_defects.training.config import TrainConfig
from textile_defects.training.devices import setup_training_device
from textile_defects.training.distributed import DistContext
from textile_defects.training.loop import FitResult, fit
from textile_defects.training.losses import build_loss
from textile_defects.utils.logs import setup_logging

log = logging.getLogger("bench_frozen_features")


def timed_fit(config: TrainConfig, dataset: CachedImageDataset, classes: list[str], weights: str, setup) -> tuple[float, FitResult]:  # type: ignore[no-untyped-def]
    """Seconds for one seeded training run of ``config`` on ``dataset`` (no validation set), and its result."""
    torch.manual_seed(config.seed)
    model = build_model(config.model, classes, weights).to(setup.device)
    counts = [max(count, 1) for count in originals_per_class(dataset.labels, dataset.original_ids, len(classes))]
    loss_fn = build_loss(config.loss, counts, config.loss_weighting, config.cb_beta, config.focal_gamma, sampler="none").to(setup.device)
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(config.seed))
    loader = DataLoader(dataset, sampler=sampler, batch_size=config.batch_size, drop_last=len(dataset) % config.batch_size == 1)
    started = time.perf_counter()
    result = fit(model, loader, None, loss_fn, config, setup, DistContext(), lambda *_: None)
    if setup.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variant", default="train_baseline")
    parser.add_argument("--weights", default=None, help="override params 'weights' (e.g. none)")
    parser.add_argument("--images", type=int, default=96, help="generated 1270x720 training images")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind (best kept)")
    args = parser.parse_args()
    setup_logging("WARNING")
    keep_freed_memory()
    params = yaml.safe_load(Path(args.params).read_text())
    config = TrainConfig.from_section(params[args.variant], args.variant, encoder=params["encoder"])
    config = dataclasses.replace(config, unfreeze_epoch=config.epochs, selection="last", tracking=False)
    classes = list(params["classes"])
    setup = setup_training_device(config.device, config.amp)
    weights = args.weights or params["weights"]

    with tempfile.TemporaryDirectory() as scratch:
        manifest = sample_manifest(Path(scratch), classes, args.images)
        dataset = CachedImageDataset.from_manifest(manifest, classes, config.model.image_size)
    timed_fit(config, dataset, classes, weights, setup)  # warm-up: weights from disk, allocator, kernels
    timed: dict[bool, list[float]] = {True: [], False: []}
    losses = {}
    for _ in range(args.rounds):
        for cache in (False, True):
            seconds, result = timed_fit(dataclasses.replace(config, cache_frozen_features=cache), dataset, classes, weights, setup)
            timed[cache].append(seconds)
            losses[cache] = result.history[-1]["train_loss"]

    recomputed, cached = min(timed[False]), min(timed[True])
    print(f"encoder {params['encoder']}, input {config.model.input_size}, {len(dataset)} images, {config.epochs} frozen epochs, "
          f"batch {config.batch_size}, device {setup.device}, {torch.get_num_threads()} threads")
    print(f"recomputed every epoch: {recomputed:7.1f} s ({config.epochs * len(dataset) / recomputed:6.1f} images/s)")
    print(f"features cached once:   {cached:7.1f} s ({config.epochs * len(dataset) / cached:6.1f} images/s)")
    print(f"speed-up: {recomputed / cached:.2f}x (at most {config.epochs}x: one trunk pass instead of {config.epochs})")
    print(f"last training loss: {losses[False]:.6f} recomputed, {losses[True]:.6f} cached (difference {abs(losses[False] - losses[True]):.1e})")


if __name__ == "__main__":
    main()
