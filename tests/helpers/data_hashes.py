"""Data-stage hashes: a small probe of the sample and augment code, and the default pipeline's outputs.

Two things are recorded in ``tests/fixtures/data_hashes.json`` (committed):

- ``probe``: the SHA-256 of every file a small but complete run of the sample
  generator and the augment writer produces (:func:`write_probe`). The data
  stages promise the same bytes on any x86-64 machine with the pinned stack,
  whatever its SIMD level; ``tests/data/test_platform_stability.py`` runs the probe
  with the CPU's vector features on and narrowed, and checks both against
  this record.
- ``pipeline``: the md5 DVC records in ``dvc.lock`` for the default
  pipeline's data-stage outputs (sample, ingest, split, augment). After
  ``dvc repro`` on another machine, ``check`` says which of them came out
  different.

Command line (from the repository root)::

    python tests/helpers/data_hashes.py check                # this machine's probe and dvc.lock vs the record
    python tests/helpers/data_hashes.py refresh-pipeline     # record dvc.lock's data-stage hashes (after dvc repro)
    python tests/helpers/data_hashes.py refresh-probe        # record this machine's probe (after a deliberate change)
    python tests/helpers/data_hashes.py probe OUT [--narrowed]   # write the probe into OUT, print its hashes (JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORD = REPO_ROOT / "tests" / "fixtures" / "data_hashes.json"
COMMAND = "python tests/helpers/data_hashes.py"
"""This module as a command, for messages that say how to refresh the record."""

DATA_STAGES: tuple[str, ...] = ("sample", "ingest", "split", "augment_train", "augment_val", "augment_test")
"""dvc.lock stages whose outputs must be byte-identical on any x86-64 machine."""

_PROBE_SEED = 20240611
_PROBE_SIZES = {"full": (1270, 720), "small": (160, 90)}
"""Full size renders one pixel per sample; the small size goes through the supersampling path."""
_PROBE_COPIES = 6
_PROBE_OPERATION_CHANCE = 0.6
"""Every operation this likely, so a few copies per original exercise all of them, alone and together."""
_PROBE_RANGES: dict[str, tuple[float, float]] = {
    "rotation_deg": (-5.0, 5.0),
    "zoom": (0.95, 1.03),
    "translate": (-0.015, 0.015),
    "brightness": (0.85, 1.15),
    "contrast": (0.85, 1.15),
    "saturation": (0.85, 1.15),
    "hue_deg": (-6.0, 6.0),
    "sharpness": (0.5, 1.8),
    "blur_sigma_px": (0.3, 1.2),
    "noise_sigma": (1.0, 4.0),
}
"""The default ranges, with a blur wide enough to reach the sized (not 3x3) Gaussian kernel."""


_OPENCV_ABOVE_BASELINE = ",".join(
    ("SSSE3", "SSE4.1", "SSE4.2", "POPCNT", "FP16", "AVX", "AVX2", "FMA3", "AVX512F", "AVX512-COMMON", "AVX512-SKX")
)
"""OpenCV's names of the CPU features its x86-64 wheels dispatch to above their SSE3 baseline."""


def narrowed_simd_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this environment) with every optional vector feature of this CPU switched off.

    NumPy: every dispatch target this CPU has (``NPY_DISABLE_CPU_FEATURES``),
    so only the baseline build runs; OpenCV: no dispatched code above its
    SSE3 baseline, no IPP; OpenBLAS: the oldest x86-64 kernels;
    libjpeg-turbo: no SIMD. Environment only, so it narrows any process,
    a ``dvc repro`` included (:func:`narrow_opencv` does the same in-process).
    """
    import numpy as np  # noqa: F401 - loads the module that reports the features

    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    env = dict(os.environ if base is None else base)
    found = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    if found:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    env.update(
        {
            "OPENCV_CPU_DISABLE": _OPENCV_ABOVE_BASELINE,
            "OPENCV_IPP": "disabled",
            "OPENBLAS_CORETYPE": "Prescott",
            "JSIMD_FORCENONE": "1",
        }
    )
    return env


def narrow_opencv() -> None:
    """OpenCV's baseline code only (no dispatched SSE4/AVX2/AVX-512 paths, no IPP), one thread."""
    import cv2

    cv2.setUseOptimized(False)
    cv2.setNumThreads(0)


def _file_hashes(root: Path) -> dict[str, str]:
    from textile_defects.data.manifest import sha256_file

    return {path.relative_to(root).as_posix(): sha256_file(path) for path in sorted(root.rglob("*")) if path.is_file()}


def write_probe(out: Path) -> dict[str, str]:
    """Write the probe's sample images, masks and augmented copies under ``out``; their SHA-256 by path."""
    from textile_defects.augment.ops import OPERATIONS
    from textile_defects.augment.settings import AugmentPolicy, AugmentSettings
    from textile_defects.augment.writer import write_augmented_set
    from textile_defects.data.manifest import write_manifest
    from textile_defects.data.sample import SAMPLE_CLASSES, generate_sample

    counts = {label: 1 for label in SAMPLE_CLASSES}
    for name, (width, height) in _PROBE_SIZES.items():
        generate_sample(out / name / "images", out / name / "masks", counts, _PROBE_SEED, width, height)
    images = sorted((out / "full" / "images").rglob("*.png"))
    rows = [
        {"path": f"../full/images/{path.parent.name}/{path.name}", "label": path.parent.name, "original_id": path.stem}
        for path in images
    ]
    write_manifest(out / "split" / "manifest.csv", rows)
    for interpolation in ("bilinear", "nearest"):
        policy = AugmentPolicy(
            probabilities={label: dict.fromkeys(OPERATIONS, _PROBE_OPERATION_CHANCE) for label in SAMPLE_CLASSES},
            ranges=_PROBE_RANGES,
            interpolation=interpolation,
            jpeg_quality=95,
            workers=1,
            grid_originals=1,
            grid_copies=1,
        )
        copies = {label: _PROBE_COPIES for label in SAMPLE_CLASSES}
        settings = AugmentSettings(seed=_PROBE_SEED, copies_per_original=copies, keep_original=False, policy=policy)
        write_augmented_set(out / "split" / "manifest.csv", out / f"augmented_{interpolation}", settings)
    return _file_hashes(out)


def run_probe(out: Path, narrowed: bool) -> dict[str, str]:
    """:func:`write_probe` in a fresh interpreter, with the vector features narrowed or not; its hashes."""
    env = narrowed_simd_env() if narrowed else dict(os.environ)
    env["TQDM_DISABLE"] = "1"
    command = [sys.executable, str(Path(__file__).resolve()), "probe", str(out), *(["--narrowed"] if narrowed else [])]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(result.stdout)


def lock_hashes(lock_path: Path = REPO_ROOT / "dvc.lock") -> dict[str, str]:
    """Output path -> md5 in ``lock_path`` for every output of the :data:`DATA_STAGES`."""
    stages = yaml.safe_load(lock_path.read_text(encoding="utf-8"))["stages"]
    hashes = {}
    for stage in DATA_STAGES:
        for out in stages.get(stage, {}).get("outs", []):
            hashes[out["path"]] = out["md5"]
    return hashes


def load_record(path: Path = RECORD) -> dict[str, dict[str, str]]:
    """The committed record: ``{"probe": {path: sha256}, "pipeline": {path: md5}}``."""
    return json.loads(path.read_text(encoding="utf-8"))


def differences(expected: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """One line per path missing, extra or with another hash."""
    lines = [f"{name}: missing (recorded {expected[name][:12]})" for name in sorted(set(expected) - set(found))]
    lines += [f"{name}: not in the record" for name in sorted(set(found) - set(expected))]
    lines += [
        f"{name}: {found[name][:12]} here, recorded {expected[name][:12]}"
        for name in sorted(set(expected) & set(found))
        if expected[name] != found[name]
    ]
    return lines


def _save_record(record: Mapping[str, Mapping[str, str]]) -> None:
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    probe = commands.add_parser("probe", help="write the probe into OUT and print its hashes as JSON")
    probe.add_argument("out", type=Path)
    probe.add_argument("--narrowed", action="store_true", help="OpenCV's baseline code only (set the env too)")
    commands.add_parser("check", help="compare this machine's probe and dvc.lock with the record")
    commands.add_parser("refresh-probe", help="record this machine's probe hashes")
    commands.add_parser("refresh-pipeline", help="record dvc.lock's data-stage output hashes")
    args = parser.parse_args()

    if args.command == "probe":
        if args.narrowed:
            narrow_opencv()
        print(json.dumps(write_probe(args.out), indent=1, sort_keys=True))
        return 0
    import tempfile

    record = load_record() if RECORD.is_file() else {"probe": {}, "pipeline": {}}
    if args.command == "refresh-pipeline":
        record["pipeline"] = lock_hashes()
        _save_record(record)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        probe_hashes = run_probe(Path(scratch) / "probe", narrowed=False)
    if args.command == "refresh-probe":
        record["probe"] = probe_hashes
        _save_record(record)
        return 0
    problems = [f"probe {line}" for line in differences(record["probe"], probe_hashes)]
    problems += [f"dvc.lock {line}" for line in differences(record["pipeline"], lock_hashes())]
    print("\n".join(problems) if problems else "data-stage hashes match the record")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
