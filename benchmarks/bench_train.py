"""Benchmark: training images/s through the real data path against in-memory tensors.

Both run in this process, with the same model, loss and settings (a params
section), alternating so that machine load affects both alike:

- data path: the stage's own path: images decoded once into the uint8 cache
  (``CachedImageDataset``), drawn by the weighted sampler, batched by a
  ``DataLoader`` (``num_workers`` from params), converted on the device;
- in memory: the same number of uint8 batches, already stacked as tensors,
  fed straight to the same training pass (the upper bound for any loader).

Prints both rates and their ratio (goal: >= 0.8; on a machine shared with
other work the ratio carries that noise, both ways), the rate of the data
path alone (loader and conversion, no model: how far it is from being the
bottleneck), and the one-off decoding cost spread over the configured epochs.
Images come from a manifest (by default the augmented training set, when
``dvc repro`` has made it) or, without one, from the built-in sample
generator at the stored 1270x720 size.

    .venv/bin/python benchmarks/bench_train.py                      # params.yaml, train_post_baseline
    .venv/bin/python benchmarks/bench_train.py --weights none --batches 4 --rounds 2
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from textile_defects.data.loading import CachedImageDataset, originals_per_class, to_model_input
from textile_defects.data.manifest import write_manifest
from textile_defects.data.sample import make_image
from textile_defects.models.network import build_model
from textile_defects.training.config import TrainConfig
from textile_defects.training.devices import setup_training_device
from textile_defects.training.losses import build_loss
from textile_defects.training.loop import run_pass
from textile_defects.training.samplers import build_sampler
from textile_defects.utils.logs import setup_logging

log = logging.getLogger("bench_train")
DEFAULT_MANIFEST = Path("data/augmented/train/manifest.csv")


def sample_manifest(folder: Path, classes: list[str], count: int) -> Path:
    """``count`` generated 1270x720 JPEGs cycling through ``classes``, with a manifest."""
    rows = []
    for index in range(count):
        label = classes[index % len(classes)]
        path = folder / f"{label}_{index:03d}.jpg"
        rgb, _ = make_image(label, index, seed=0, width=1270, height=720)
        rgb.save(path, quality=95)
        rows.append({"path": path.name, "label": label, "original_id": f"{label}-{index}"})
    return write_manifest(folder / "manifest.csv", rows)


def timed_pass(model: torch.nn.Module, batches, loss_fn, setup, optimizer) -> float:  # type: ignore[no-untyped-def]
    """Seconds for one training pass over ``batches``."""
    started = time.perf_counter()
    run_pass(model, batches, loss_fn, setup, optimizer=optimizer)
    if setup.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variant", default="train_post_baseline")
    parser.add_argument("--manifest", type=Path, default=None, help=f"images to read (default: {DEFAULT_MANIFEST} if present)")
    parser.add_argument("--weights", default=None, help="override params 'weights' (e.g. none)")
    parser.add_argument("--batches", type=int, default=6, help="training batches per timed pass")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each kind (best kept)")
    args = parser.parse_args()
    setup_logging("WARNING")
    params = yaml.safe_load(Path(args.params).read_text())
    config = TrainConfig.from_section(params[args.variant], args.variant, encoder=params["encoder"])
    classes = list(params["classes"])
    setup = setup_training_device(config.device, config.amp)

    with tempfile.TemporaryDirectory() as scratch:
        manifest = args.manifest or (DEFAULT_MANIFEST if DEFAULT_MANIFEST.is_file() else None)
        manifest = manifest or sample_manifest(Path(scratch), classes, config.batch_size * args.batches)
        started = time.perf_counter()
        dataset = CachedImageDataset.from_manifest(manifest, classes, config.model.image_size, memory_limit_mb=config.cache_memory_mb)
        decode_s = time.perf_counter() - started

        torch.manual_seed(config.seed)
        model = build_model(config.model, classes, args.weights or params["weights"]).to(setup.device)
        model.freeze_encoder()
        counts = originals_per_class(dataset.labels, dataset.original_ids, len(classes))
        counts = [max(count, 1) for count in counts]
        loss_fn = build_loss(
            config.loss, counts, config.loss_weighting, config.cb_beta, config.focal_gamma, sampler=config.sampler,
            combine=config.balance_combine,
        ).to(setup.device)
        optimizer = torch.optim.Adam(model.param_groups(config.lr_head, config.lr_encoder, config.weight_decay))
        sampler = build_sampler(
            torch.as_tensor(dataset.labels), counts, config.sampler, config.cb_beta, len(dataset), config.seed,
            loss_weighting=config.loss_weighting, combine=config.balance_combine,
        )
        loader = DataLoader(
            dataset, batch_size=config.batch_size, sampler=sampler, shuffle=sampler is None, drop_last=True,
            num_workers=config.num_workers, pin_memory=setup.pin_memory, persistent_workers=config.num_workers > 0,
        )
        in_memory = [batch for batch in itertools.islice(iter(loader), args.batches)]
        images = len(in_memory) * config.batch_size

        timed_pass(model, in_memory[:1], loss_fn, setup, optimizer)  # warm-up: allocator, kernels
        path_s, memory_s = [], []
        for _ in range(args.rounds):
            path_s.append(timed_pass(model, itertools.islice(iter(loader), args.batches), loss_fn, setup, optimizer))
            memory_s.append(timed_pass(model, in_memory, loss_fn, setup, optimizer))
        # The loader alone, batches converted to model input: its ceiling, whatever the load.
        started = time.perf_counter()
        loaded = sum(len(to_model_input(images, setup.device, channels_last=setup.channels_last)) for images, _ in loader)
        loader_rate = loaded / (time.perf_counter() - started)

    path_rate, memory_rate = images / min(path_s), images / min(memory_s)
    epoch_s = len(dataset) / path_rate
    print(f"encoder {params['encoder']}, image_size {config.model.image_size}, input_size {config.model.input_size}, "
          f"batch {config.batch_size}, device {setup.device}, {torch.get_num_threads()} threads")
    print(f"decode once: {len(dataset)} images in {decode_s:.1f} s ({len(dataset) / decode_s:.0f} images/s)")
    print(f"training, data path:  {path_rate:7.2f} images/s")
    print(f"training, in memory:  {memory_rate:7.2f} images/s")
    print(f"ratio data path / in memory: {path_rate / memory_rate:.3f} (goal >= 0.8)")
    print(f"data path alone (no model): {loader_rate:7.0f} images/s, {loader_rate / memory_rate:.0f}x the training rate")
    amortised = epoch_s / (epoch_s + decode_s / config.epochs)
    print(f"with decoding spread over {config.epochs} epochs of {len(dataset)} images: ratio {amortised * path_rate / memory_rate:.3f}")


if __name__ == "__main__":
    main()
