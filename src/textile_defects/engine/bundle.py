"""A bundle for the line PC: one folder that predict runs from, with onnxruntime, numpy and Pillow, no torch.

    python -m textile_defects.engine.bundle --out bundle/   # models/post_baseline.pt + gate.pt + type.npz beside it
    cd bundle && python -m textile_defects.predict /frames --bundle . --watch --out line.csv

The folder holds the classifier's and the gate's engine files (the memory bank
inside the gate's graph; classes, good class, threshold, frame sizes,
preprocessing and ingest's smallest frame in their descriptions), the type
classifier (``type.npz``, docs/naming.md) when one was fitted on that gate's
maps (``--naming type`` then needs scipy too, and the bundle lists it), this
package's Python code (``textile_defects/``, so nothing else needs installing),
``requirements.txt`` (the pinned packages the line PC installs: ONNX Runtime,
numpy, Pillow, tqdm, PyYAML and what ONNX Runtime needs) and
``manifest.json``: every file's SHA-256 and the SHA-256 of the checkpoints they
came from. predict refuses a bundle whose files do not match its manifest.

The engine files are taken from beside the checkpoints (``dvc repro
export_engine``) when they match them, else exported afresh (which needs torch,
on the machine that writes the bundle only).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import textile_defects
from textile_defects.engine.files import EngineInfo, check_source, engine_path, parse_metadata, sha256_file
from textile_defects.errors import ConfigError, DataError
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_json, atomic_write_text

log = logging.getLogger("textile_defects.engine.bundle")

FORMAT = "textile-defects-bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
CLASSIFIER_NAME = "classifier.onnx"
GATE_NAME = "gate.onnx"
TYPE_NAME = "type.npz"
CODE_DIR = "textile_defects"
REQUIREMENTS: tuple[str, ...] = ("onnxruntime", "numpy", "pillow", "tqdm", "pyyaml", "flatbuffers", "packaging", "protobuf")
"""What the line PC installs (pinned to the versions of the machine that wrote the bundle)."""
NAMING_REQUIREMENTS: tuple[str, ...] = ("scipy",)
"""What it installs besides, when the bundle holds a type classifier (its profile cues)."""


@dataclass(frozen=True)
class Bundle:
    """A bundle folder, checked: its classifier's and (optional) gate's engine files, and its manifest."""

    folder: Path
    classifier: Path
    gate: Path | None
    type_model: Path | None
    """The type classifier (``--naming type``), None when the bundle has none."""
    manifest: dict[str, Any]


def read_bundle(folder: str | Path) -> Bundle:
    """Open a bundle written by :func:`write_bundle`; a :class:`DataError` when anything in it does not match its manifest."""
    root = Path(folder)
    how = "write it again with `python -m textile_defects.engine.bundle`"
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{root}: not a bundle ({MANIFEST_NAME} unreadable: {exc}); {how}.") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{root}: {MANIFEST_NAME} is not a {FORMAT} manifest of version {FORMAT_VERSION}; {how}.")
    for name, expected in manifest["files"].items():
        path = root / name
        if not path.is_file():
            raise DataError(f"{path}: missing from the bundle; {how}.")
        if sha256_file(path) != expected:
            raise DataError(f"{path}: its SHA-256 differs from the bundle's manifest (changed or damaged since); {how}.")
    gate = root / GATE_NAME if GATE_NAME in manifest["files"] else None
    type_model = root / TYPE_NAME if TYPE_NAME in manifest["files"] else None
    return Bundle(root, root / CLASSIFIER_NAME, gate, type_model, manifest)


def _engine_file(checkpoint: Path, staging: Path, name: str, min_frame_size: tuple[int, int] | None) -> Path:
    """The checkpoint's engine file copied into ``staging`` as ``name``: the exported one beside it, or a fresh export."""
    beside = engine_path(checkpoint)
    target = staging / name
    if beside.is_file():
        from textile_defects.engine.session import EngineClassifier, EngineGate

        reader = EngineGate if name == GATE_NAME else EngineClassifier
        check_source(reader(beside).info, checkpoint)  # a stale file is refused, never bundled
        shutil.copyfile(beside, target)
        return target
    if min_frame_size is None:
        raise ConfigError(f"{beside} does not exist: run `dvc repro export_engine`, or pass --min-size WxH to export it here.")
    from textile_defects.engine.export import export_classifier, export_gate  # torch: only to export afresh

    (export_gate if name == GATE_NAME else export_classifier)(checkpoint, target, min_frame_size=min_frame_size)
    return target


def _copy_code(staging: Path) -> None:
    """This package's Python files (no caches) into ``staging/textile_defects``."""
    package = Path(textile_defects.__file__).parent
    for source in sorted(package.rglob("*.py")):
        target = staging / CODE_DIR / source.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _describe(info: EngineInfo) -> dict[str, Any]:
    return {"source": {"name": info.source_name, "sha256": info.source_sha256}, "image_size": list(info.image_size)}


def write_bundle(
    out: str | Path,
    model: str | Path,
    gate: str | Path | None,
    *,
    type_model: str | Path | None = None,
    min_frame_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Write the bundle folder ``out`` (atomically) for classifier checkpoint ``model``, gate ``gate`` and type classifier ``type_model``.

    A type classifier fitted on another gate's maps is refused (its cues would
    be read in the wrong terms), as is one without a gate. Returns the manifest.
    """
    from textile_defects.engine.session import EngineClassifier, EngineGate
    from textile_defects.naming.checkpoint import load_type_model

    if type_model is not None:
        if gate is None:
            raise ConfigError(f"{type_model}: a type classifier names what the gate finds; bundle it with its gate, or pass --type none.")
        naming = load_type_model(Path(type_model), Path(gate))  # refuses a type model of another gate
    with atomic_output_dir(out) as staging:
        classifier = EngineClassifier(_engine_file(Path(model), staging, CLASSIFIER_NAME, min_frame_size))
        scorer = EngineGate(_engine_file(Path(gate), staging, GATE_NAME, min_frame_size)) if gate is not None else None
        if type_model is not None:
            shutil.copyfile(type_model, staging / TYPE_NAME)
        _copy_code(staging)
        wanted = REQUIREMENTS + (NAMING_REQUIREMENTS if type_model is not None else ())
        requirements = "".join(f"{name}=={version(name)}\n" for name in wanted)
        atomic_write_text(staging / "requirements.txt", requirements)
        atomic_write_text(staging / "README.txt", _readme(scorer is not None, type_model is not None))
        hashes = {path.relative_to(staging).as_posix(): sha256_file(path) for path in sorted(staging.rglob("*")) if path.is_file()}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "written_by": f"textile_defects {textile_defects.__version__}",
            "classifier": {**_describe(classifier.info), "classes": list(classifier.classes), "good_class": classifier.info.good_class},
            "gate": None if scorer is None else {**_describe(scorer.info), "threshold": scorer.threshold},
            "type": None if type_model is None else {
                "source": {"name": Path(type_model).name, "sha256": hashes[TYPE_NAME]},  # the copy's bytes are the source's
                "classes": list(naming.classes), "parts": list(naming.parts), "level": naming.level,
            },
            "min_frame_size": list(classifier.info.min_frame_size),
            "preprocessing": classifier.info.values["preprocessing"],
            "engine": "ONNX Runtime, CPU provider",
            "requirements": requirements.splitlines(),
            "files": hashes,
        }
        atomic_write_json(staging / MANIFEST_NAME, manifest)
    parts = [Path(model).name] + [Path(path).name for path in (gate, type_model) if path is not None]
    log.info("wrote bundle %s: %s, %d files", out, " + ".join(parts), len(manifest["files"]) + 1)
    return manifest


def _readme(with_gate: bool, with_type: bool) -> str:
    return (
        "Textile defect predict, bundled for a line PC (no torch needed).\n\n"
        "Install once (Python 3.11):\n"
        "    python -m venv .venv && .venv/bin/pip install -r requirements.txt\n\n"
        "Run from this folder:\n"
        "    .venv/bin/python -m textile_defects.predict /path/to/frames --bundle . --out predictions.csv\n"
        "    .venv/bin/python -m textile_defects.predict /path/to/incoming --bundle . --watch --out line.csv\n\n"
        + ("The classifier and the anomaly gate judge each frame (gate or classifier, docs/holdout.md).\n" if with_gate
           else "The classifier alone judges each frame (no gate in this bundle).\n")
        + ("By default the type classifier (on the gate's region) and the classifier name the defect together; "
           "--naming classifier or --naming type lets one name it alone (docs/naming.md).\n" if with_type else "")
        + "manifest.json lists every file's SHA-256 and the checkpoints they came from.\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m textile_defects.engine.bundle``: write a bundle folder."""
    from textile_defects.utils.stage import run_stage

    parser = argparse.ArgumentParser(prog="python -m textile_defects.engine.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/post_baseline.pt"), help="classifier checkpoint (default: %(default)s)")
    parser.add_argument("--gate", help="gate checkpoint, or 'none' (default: gate.pt beside --model, when it exists)")
    parser.add_argument("--type", help="type classifier file, or 'none' (default: type.npz beside --model, when it exists and a gate is bundled)")
    parser.add_argument("--out", type=Path, default=Path("bundle"), help="the folder to write (default: %(default)s)")
    parser.add_argument("--min-size", help="WxH: ingest's smallest frame, recorded when an engine file must be exported here")
    args = parser.parse_args(argv)

    def run() -> None:
        gate = None if (args.gate or "").lower() == "none" else Path(args.gate) if args.gate else args.model.parent / "gate.pt"
        if gate is not None and not gate.is_file():
            if args.gate:
                raise DataError(f"{gate}: gate checkpoint not found; pass --gate none for a classifier-only bundle.")
            log.info("no gate beside %s: a classifier-only bundle", args.model)
            gate = None
        if not args.model.is_file():
            raise DataError(f"Checkpoint {args.model} not found: train it first (`dvc repro`).")
        type_model = _type_model(args.type, args.model.parent / TYPE_NAME, gate)
        size = tuple(int(side) for side in args.min_size.lower().split("x")) if args.min_size else None
        write_bundle(args.out, args.model, gate, type_model=type_model, min_frame_size=size)  # type: ignore[arg-type]

    run_stage(run)


def _type_model(option: str | None, beside: Path, gate: Path | None) -> Path | None:
    """The type classifier to bundle: ``--type`` (must exist), none, or the one beside the model when there is a gate."""
    if (option or "").lower() == "none":
        return None
    if option:
        if not Path(option).is_file():
            raise DataError(f"{option}: type classifier not found; build it with `dvc repro train_type`, or pass --type none.")
        return Path(option)
    if gate is None or not beside.is_file():
        log.info("no type classifier bundled (%s)", "no gate" if gate is None else f"none at {beside}")
        return None
    return beside


if __name__ == "__main__":
    main()
