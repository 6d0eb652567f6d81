"""Benchmark: the gate's build and scoring throughput (images/s) against a bare-torch forward pass.

All in one process on ``--threads`` cores (default 2), with the params'
gate settings:

- reference: the encoder's plain forward pass (torch, channels-last, no hooks,
  all its layers) on the same full-size frames, already decoded;
- build: :func:`fit_gate` on ``--images`` good frames (decoding, patch
  features, the fold coresets, the held-out threshold), in images/s;
- score: :meth:`Gate.score_files` on the same frames (decoding, features,
  nearest-neighbour search), in images/s.

Prints each rate and its ratio to the reference. Frames are generated good
sample photos (1270x720 PNGs) in a temporary folder, so no pipeline output is needed.

    .venv/bin/python benchmarks/bench_gate.py                  # params.yaml, 10 frames, 2 threads
    .venv/bin/python benchmarks/bench_gate.py --images 5 --weights none
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from textile_defects.data.images import prepare_image
from textile_defects.data.sample import make_image
from textile_defects.gate.features import normalise
from textile_defects.gate.model import GateConfig, TrainingImage, build_extractor, fit_gate
from textile_defects.models.registry import build_encoder
from textile_defects.utils.logs import setup_logging

log = logging.getLogger("bench_gate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", type=int, default=10, help="good frames to build from and score")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", help="override the top-level weights (e.g. none)")
    args = parser.parse_args()
    setup_logging("WARNING")
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    config = GateConfig.from_section(params["gate"], encoder=params["encoder"], weights=args.weights or params["weights"])
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(args.images):
            rgb, _ = make_image("non_defect", index, seed=0, width=config.image_size[0], height=config.image_size[1])
            paths.append(Path(folder) / f"good_{index:03d}.png")
            rgb.save(paths[-1])
        images = [TrainingImage(path, path.stem, True) for path in paths]
        frames = np.stack([prepare_image(path, config.image_size) for path in paths])

        _, (mean, std) = build_extractor(config)
        # A separate copy: the extractor's encoder carries hooks that stop its forward pass early.
        encoder = build_encoder(config.encoder, config.weights)[0].to(memory_format=torch.channels_last).eval()
        with torch.inference_mode():
            encoder(normalise(frames[:1], mean, std))  # warm-up
            start = time.perf_counter()
            for frame in frames:
                encoder(normalise(frame[None], mean, std))
            reference = len(frames) / (time.perf_counter() - start)

        start = time.perf_counter()
        gate = fit_gate(config, images)
        build = len(images) / (time.perf_counter() - start)
        start = time.perf_counter()
        gate.score_files(paths)
        score = len(paths) / (time.perf_counter() - start)

    print(f"frames {config.image_size[0]}x{config.image_size[1]}, {args.images} images, {args.threads} threads, "
          f"layers {list(config.layers)}, grid {config.grid}, bank {gate.bank.shape[0]} x {gate.bank.shape[1]}")
    print(f"reference (bare forward, whole encoder, decoded frames): {reference:6.2f} images/s")
    print(f"gate build (decode, features, coresets, threshold):      {build:6.2f} images/s  ratio {build / reference:.2f}")
    print(f"gate scoring (decode, features, nearest neighbours):     {score:6.2f} images/s  ratio {score / reference:.2f}")


if __name__ == "__main__":
    main()
