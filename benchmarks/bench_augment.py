"""Benchmark: images/s of the whole augment stage against a straightforward Pillow loop.

Both run in this process's run, on the same originals (the built-in sample
generator at 1270x720), the same drawn operations (the params section's
policy) and the same JPEG quality:

- stage: ``write_augmented_set`` (one warp, one colour matrix, all cores)
  then its picture grids, as the stage script runs them;
- straightforward: one process, each operation applied one after another
  with Pillow's usual calls (ImageOps, Image.rotate, ImageEnhance, HSV hue
  shift, GaussianBlur, NumPy noise), reflection padding for borders.

Prints images/s for both, their ratio, the JPEG-encoding floor measured on
the same images, and the mean absolute pixel difference between the two
implementations on the same operations (noise aside): they should agree up
to rounding, border handling and the hue formula (HSV shift vs rotation).

    .venv/bin/python benchmarks/bench_augment.py            # defaults: 6 originals x 40 copies
    .venv/bin/python benchmarks/bench_augment.py --copies 100 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from textile_defects.augment.grid import write_grids
from textile_defects.augment.ops import apply_operations
from textile_defects.augment.settings import load_settings
from textile_defects.augment.writer import copy_operations, encode_jpeg, write_augmented_set
from textile_defects.utils.params import available_cores
from textile_defects.data.manifest import COLUMNS
from textile_defects.data.sample import make_image
from textile_defects.utils.logs import setup_logging

WIDTH, HEIGHT = 1270, 720
LABELS = ("non_defect", "hole", "lycra_cut", "needle", "twoply", "non_defect")
PILLOW_RESAMPLING = {"bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}


# ---- the straightforward implementation: one Pillow call per operation ----


def _reflect_pad(image: Image.Image, margin: int) -> Image.Image:
    return Image.fromarray(np.pad(np.asarray(image), ((margin, margin), (margin, margin), (0, 0)), mode="symmetric"))


def _centre_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _shift_hue(image: Image.Image, shift_deg: float) -> Image.Image:
    hue, saturation, value = image.convert("HSV").split()
    offset = round(shift_deg / 360.0 * 256)
    hue = hue.point([(v + offset) % 256 for v in range(256)])
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def naive_apply(image: Image.Image, operations: list[dict], interpolation: str) -> Image.Image:
    """Each operation on its own, the way one would first write it."""
    resample = PILLOW_RESAMPLING[interpolation]
    width, height = image.size
    margin = math.ceil(0.2 * max(width, height))
    for operation in operations:
        name, params = operation["op"], operation["params"]
        if name == "hflip":
            image = ImageOps.mirror(image)
        elif name == "vflip":
            image = ImageOps.flip(image)
        elif name == "rotate180":
            image = image.rotate(180)
        elif name == "rotate":
            rotated = _reflect_pad(image, margin).rotate(params["angle_deg"], resample=resample)
            image = _centre_crop(rotated, width, height)
        elif name == "zoom":
            padded = _reflect_pad(image, margin)
            scale, cx, cy = 1.0 / params["factor"], padded.width / 2, padded.height / 2
            zoomed = padded.transform(
                padded.size, Image.Transform.AFFINE, (scale, 0, cx - cx * scale, 0, scale, cy - cy * scale), resample
            )
            image = _centre_crop(zoomed, width, height)
        elif name == "translate":
            shift = (-params["dx"] * width, -params["dy"] * height)
            padded = _reflect_pad(image, margin)
            moved = padded.transform(padded.size, Image.Transform.AFFINE, (1, 0, shift[0], 0, 1, shift[1]), resample)
            image = _centre_crop(moved, width, height)
        elif name == "brightness":
            image = ImageEnhance.Brightness(image).enhance(params["factor"])
        elif name == "contrast":
            image = ImageEnhance.Contrast(image).enhance(params["factor"])
        elif name == "saturation":
            image = ImageEnhance.Color(image).enhance(params["factor"])
        elif name == "hue":
            image = _shift_hue(image, params["shift_deg"])
        elif name == "sharpness":
            image = ImageEnhance.Sharpness(image).enhance(params["factor"])
        elif name == "blur":
            image = image.filter(ImageFilter.GaussianBlur(params["sigma_px"]))
        elif name == "noise":
            noise = np.random.default_rng(params["seed"]).normal(0.0, params["sigma"], (height, width, 3))
            image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).round().astype(np.uint8))
    return image


# ---- set-up and measurement ----


def make_originals(folder: Path, count: int, seed: int) -> Path:
    """``count`` sample photos at 1270x720 and a split manifest pointing at them."""
    rows = []
    for index in range(count):
        label = LABELS[index % len(LABELS)]
        image, _ = make_image(label, index, seed, WIDTH, HEIGHT)
        relative = f"images/{label}/bench{index:03d}.png"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        image.save(folder / relative)
        rows.append({"path": relative, "label": label, "original_id": f"{label}__bench{index:03d}", "split": "train"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def run_naive(manifest: Path, settings, out_dir: Path, limit: int) -> tuple[int, float, float]:
    """Images written, seconds, and mean |naive - stage| per pixel over the written images."""
    with open(manifest, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    copies = settings.copies_per_original
    tasks = [(row, k) for row in rows for k in range(copies[row["label"]])][:limit]
    out_dir.mkdir(parents=True, exist_ok=True)
    differences = []
    started = time.perf_counter()
    loaded: dict[str, Image.Image] = {}
    for row, copy_index in tasks:
        if row["original_id"] not in loaded:
            loaded.clear()
            loaded[row["original_id"]] = Image.open(manifest.parent / row["path"]).convert("RGB")
        original = loaded[row["original_id"]]
        operations = copy_operations(settings, row["label"], row["original_id"], copy_index)
        image = naive_apply(original, operations, settings.policy.interpolation)
        name = f"{row['original_id']}_{copy_index:04d}.jpg"
        image.save(out_dir / name, format="JPEG", quality=settings.policy.jpeg_quality)
    seconds = time.perf_counter() - started
    for row, copy_index in tasks[:: max(1, len(tasks) // 10)]:
        # Noise left out: both draw Gaussian noise of the same sigma, but not the same numbers.
        operations = [
            operation
            for operation in copy_operations(settings, row["label"], row["original_id"], copy_index)
            if operation["op"] != "noise"
        ]
        original = Image.open(manifest.parent / row["path"]).convert("RGB")
        fast = apply_operations(np.asarray(original), operations, settings.policy.interpolation).astype(np.int16)
        slow = np.asarray(naive_apply(original, operations, settings.policy.interpolation), dtype=np.int16)
        differences.append(float(np.abs(fast - slow).mean()))
    return len(tasks), seconds, float(np.mean(differences))


def jpeg_floor_ms(manifest: Path, quality: int) -> float:
    """Milliseconds to encode one of the originals as JPEG (median of a few)."""
    with open(manifest, encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    pixels = np.asarray(Image.open(manifest.parent / row["path"]).convert("RGB"))
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        encode_jpeg(pixels, quality)
        timings.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(timings))


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the stage's workers), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--section", default="augment_train")
    parser.add_argument("--originals", type=int, default=6)
    parser.add_argument("--copies", type=int, default=40, help="copies per original for the stage run")
    parser.add_argument("--naive-images", type=int, default=40, help="images for the (slow) straightforward run")
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    parser.add_argument("--interpolation", choices=("bilinear", "nearest"), help="override the section's")
    args = parser.parse_args()
    setup_logging("WARNING")

    params = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    settings = load_settings(params, args.section, params["classes"])
    policy = dataclasses.replace(
        settings.policy, workers=args.workers, interpolation=args.interpolation or settings.policy.interpolation
    )
    settings = dataclasses.replace(
        settings, copies_per_original={label: args.copies for label in settings.copies_per_original}, policy=policy
    )
    workers = args.workers or available_cores()
    with tempfile.TemporaryDirectory(prefix="bench_augment_") as tmp:
        folder = Path(tmp)
        manifest = make_originals(folder / "originals", args.originals, seed=int(params["sample"]["seed"]))
        load_before = os.getloadavg()[0]

        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        rows = write_augmented_set(manifest, folder / "stage", settings, name="bench")
        images_seconds = time.perf_counter() - started
        write_grids(
            manifest,
            folder / "stage" / "manifest.csv",
            folder / "grids",
            originals=settings.policy.grid_originals,
            copies=settings.policy.grid_copies,
            name="bench",
        )
        stage_seconds = time.perf_counter() - started
        stage_cpu = _cpu_seconds() - cpu_before
        worker_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        cpu_before = _cpu_seconds()
        naive_count, naive_seconds, mean_difference = run_naive(manifest, settings, folder / "naive", args.naive_images)
        naive_cpu = _cpu_seconds() - cpu_before
        floor_ms = jpeg_floor_ms(manifest, settings.policy.jpeg_quality)

    stage_rate = len(rows) / stage_seconds
    naive_rate = naive_count / naive_seconds
    operations_per_image = np.mean([len(json.loads(str(row["operations"]))) for row in rows])
    report = {
        "image_size": f"{WIDTH}x{HEIGHT}",
        "section": args.section,
        "interpolation": settings.policy.interpolation,
        "jpeg_quality": settings.policy.jpeg_quality,
        "workers": workers,
        "load_average_before": round(load_before, 2),
        "operations_per_image": round(float(operations_per_image), 2),
        "stage_images": len(rows),
        "stage_seconds_images": round(images_seconds, 2),
        "stage_seconds_with_grids": round(stage_seconds, 2),
        "stage_images_per_s": round(stage_rate, 1),
        "stage_ms_per_image_per_worker": round(1000.0 * stage_seconds * workers / len(rows), 2),
        "naive_images": naive_count,
        "naive_seconds": round(naive_seconds, 2),
        "naive_images_per_s": round(naive_rate, 1),
        "ratio_stage_over_naive": round(stage_rate / naive_rate, 2),
        # CPU time per image: what the wall-clock figures become on idle cores.
        "stage_cpu_ms_per_image": round(1000.0 * stage_cpu / len(rows), 2),
        "naive_cpu_ms_per_image": round(1000.0 * naive_cpu / naive_count, 2),
        "stage_images_per_s_on_idle_cores": round(workers * len(rows) / stage_cpu, 1),
        "ratio_on_idle_cores": round(workers * (naive_cpu / naive_count) / (stage_cpu / len(rows)), 2),
        "jpeg_encode_ms_per_image": round(floor_ms, 2),
        "jpeg_floor_images_per_s": round(workers * 1000.0 / floor_ms, 1),
        "mean_abs_pixel_difference_without_noise": round(mean_difference, 2),
        "worker_peak_rss_mib": round(worker_peak_mib, 1),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
