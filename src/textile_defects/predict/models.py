"""Which models predict runs, and on which engine: a bundle, or checkpoints with their engine files beside them.

``--engine auto`` (the default) runs ONNX Runtime on CPU when every model's
engine file is there (``models/post_baseline.onnx`` beside
``models/post_baseline.pt``, ``models/gate.onnx`` beside ``models/gate.pt``,
written by ``dvc repro export_engine``), and PyTorch otherwise (saying why);
on CUDA it runs PyTorch. An engine file exported from other bytes than the
checkpoint beside it is refused whatever the engine setting, never used
silently. ``--bundle DIR`` runs a bundle's engine files (no torch needed).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from textile_defects.errors import ConfigError, DataError
from textile_defects.predict.judges import EngineJudge, Judge, TorchJudge

if TYPE_CHECKING:
    from textile_defects.engine.bundle import Bundle

log = logging.getLogger("textile_defects.predict")

DEFAULT_MODEL = Path("models/post_baseline.pt")
GATE_FILE = "gate.pt"
"""The gate used by default: this file beside the classifier checkpoint (train_gate writes models/gate.pt)."""


def gate_path(option: str | None, heatmaps: Path | None, model: Path) -> Path | None:
    """The gate to use: the option's file, none for ``none``, else gate.pt beside ``model`` when it exists."""
    if option is not None:
        if option.lower() == "none":
            if heatmaps is not None:
                raise ConfigError("--heatmaps needs the anomaly gate; drop --gate none or --heatmaps.")
            return None
        return Path(option)
    beside = model.parent / GATE_FILE
    if beside.is_file():
        return beside
    if heatmaps is not None:
        raise ConfigError(f"--heatmaps needs an anomaly gate: pass --gate PATH, or build {beside} with `dvc repro train_gate`.")
    log.info("no anomaly gate (%s not found): the classifier alone decides defective or good", beside)
    return None


def _wants_gpu(device: str) -> bool:
    if device == "cuda":
        return True
    if device == "cpu" or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def _engine_reason(model: Path, gate: Path | None) -> str | None:
    """Why the engine cannot run these checkpoints (None when it can)."""
    from textile_defects.engine.files import engine_path

    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    missing = [str(engine_path(p)) for p in (model, gate) if p is not None and not engine_path(p).is_file()]
    return f"no engine file {', '.join(missing)} (write it with `dvc repro export_engine`)" if missing else None


def _log_engine(judge: Judge, files: str) -> None:
    info = judge.info
    if info.engine == "onnxruntime":
        import onnxruntime

        from textile_defects.utils.params import available_cores

        log.info("engine: ONNX Runtime %s, CPU provider, %d threads, on %s", onnxruntime.__version__, available_cores(), files)
    else:
        import torch

        log.info("engine: PyTorch %s on %s, on %s", torch.__version__, judge.device.device, files)  # type: ignore[attr-defined]


def choose_judge(args: argparse.Namespace, bundle: Bundle | None = None) -> Judge:
    """The :class:`Judge` the options ask for (see the module docstring); every refusal names the file and what to do.

    ``bundle`` is ``--bundle``'s folder already read (:func:`~textile_defects.engine.bundle.read_bundle`), else it is read here.
    """
    if args.bundle is not None:
        if bundle is None:
            from textile_defects.engine.bundle import read_bundle

            bundle = read_bundle(args.bundle)
        gate = None if (args.gate or "").lower() == "none" else bundle.gate
        judge = EngineJudge(bundle.classifier, gate, good_class=args.good_class)
        _log_engine(judge, f"bundle {args.bundle} ({', '.join(p.name for p in (bundle.classifier, gate) if p)})")
    else:
        judge = _checkpoint_judge(args)
    info = judge.info
    if info.good_class not in info.classes:
        raise ConfigError(f"--good-class {info.good_class!r} is not a class of the model ({list(info.classes)}).")
    if info.threshold is None and args.rule is not None:
        raise ConfigError(f"--rule {args.rule} needs the anomaly gate; drop --gate none, or pass --gate PATH.")
    if info.threshold is not None:
        log.info("anomaly gate: threshold %.4f, frames read at %dx%d", info.threshold, *info.gate_size)  # type: ignore[misc]
    return judge


def _checkpoint_judge(args: argparse.Namespace) -> Judge:
    model = args.model or DEFAULT_MODEL
    if not model.is_file():
        raise DataError(f"Checkpoint {model} not found: train it first (`dvc repro`) or fetch it (`dvc pull {model}`).")
    gate = gate_path(args.gate, args.heatmaps, model)
    if gate is not None and not gate.is_file():
        raise DataError(f"{gate}: gate checkpoint not found; build it with `dvc repro train_gate`, or pass --gate none.")
    files = " + ".join(str(p) for p in (model, gate) if p is not None)
    engine = args.engine
    if engine != "torch" and _wants_gpu(args.device):
        if engine == "onnx":
            raise ConfigError("--engine onnx runs on the CPU; with --device cuda use --engine torch (or auto).")
        engine = "torch"
    if engine != "torch":
        reason = _engine_reason(model, gate)
        if reason is None:
            from textile_defects.engine.files import engine_path

            judge: Judge = EngineJudge(
                engine_path(model), engine_path(gate) if gate else None,
                classifier_checkpoint=model, gate_checkpoint=gate, good_class=args.good_class,
            )
            _log_engine(judge, " + ".join(str(engine_path(p)) for p in (model, gate) if p is not None))
            return judge
        if engine == "onnx":
            raise ConfigError(f"--engine onnx: {reason}.")
        log.info("running PyTorch: %s", reason)
    from textile_defects.models.checkpoint import load_checkpoint

    classifier, meta = load_checkpoint(model, map_location="cpu")
    judge = TorchJudge(classifier, meta, args.device, gate, args.good_class)
    _log_engine(judge, files)
    return judge
