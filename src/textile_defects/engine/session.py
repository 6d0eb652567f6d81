"""The engine at run time: ONNX Runtime sessions for the classifier and the gate, no torch.

Both take (N, H, W, 3) uint8 frames prepared by the pipeline's one
preprocessing path (:mod:`textile_defects.data.frames`); the graphs hold the
rest (scaling, normalisation, the head's resize; the memory bank). The CPU
provider runs with one thread per core this process may use and the full
graph optimisation. On CUDA predict runs PyTorch instead (the onnxruntime
wheel pinned here is the CPU build; docs/engine.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from textile_defects.engine.files import EngineInfo, parse_metadata
from textile_defects.errors import ConfigError, DataError
from textile_defects.utils.params import available_cores

log = logging.getLogger(__name__)

PROVIDER = "CPUExecutionProvider"


def _session(path: Path, threads: int | None):  # type: ignore[no-untyped-def]
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError(
            "the inference engine needs onnxruntime (`pip install onnxruntime`, pinned in constraints.txt); "
            "or run PyTorch with `--engine torch`."
        ) from exc
    if not path.is_file():
        raise DataError(f"{path}: engine file not found; write it with `dvc repro export_engine`, or use `--engine torch`.")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=[PROVIDER])
    except Exception as exc:  # onnxruntime raises its own types for truncated or foreign files
        raise DataError(f"{path}: cannot be loaded by ONNX Runtime ({exc}); re-export it with `dvc repro export_engine`.") from exc


class _EngineModel:
    kind = ""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = _session(self.path, threads)
        self.info: EngineInfo = parse_metadata(self.path, dict(self.session.get_modelmeta().custom_metadata_map), self.kind)
        self.input_name = self.session.get_inputs()[0].name
        shape = self.session.get_inputs()[0].shape
        width, height = self.info.image_size
        if list(shape[1:]) != [height, width, 3]:
            raise DataError(f"{self.path}: the graph reads {shape}, its description says {height}x{width}x3; re-export it.")

    @property
    def image_size(self) -> tuple[int, int]:
        return self.info.image_size

    def _run(self, frames: np.ndarray) -> list[np.ndarray]:
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        width, height = self.info.image_size
        if frames.ndim != 4 or frames.shape[1:] != (height, width, 3):
            raise ValueError(f"expected (N, {height}, {width}, 3) uint8 frames, got {frames.shape}")
        # The graphs are exported for one frame at a time (what watch mode runs; on a CPU a batch gains nothing).
        outputs = [self.session.run(None, {self.input_name: frame[None]}) for frame in frames]
        return [np.concatenate([out[i] for out in outputs]) for i in range(len(outputs[0]))] if outputs else []


class EngineClassifier(_EngineModel):
    """A classifier's engine file: :meth:`probabilities` of prepared frames; classes and good class from the file."""

    kind = "classifier"

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        outputs = self.session.get_outputs()[0].shape
        if outputs[-1] != len(self.info.classes):
            raise DataError(f"{self.path}: the graph has {outputs[-1]} outputs for {len(self.info.classes)} classes; re-export it.")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 frames at :attr:`image_size` -> (N, C) float64 class probabilities."""
        if len(frames) == 0:
            return np.zeros((0, len(self.classes)))
        (probabilities,) = self._run(frames)
        return probabilities.astype(np.float64)


class EngineGate(_EngineModel):
    """The gate's engine file: :meth:`score` of prepared frames; threshold and border ring from the file."""

    kind = "gate"

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def score(self, frames: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(N, H, W, 3) uint8 frames at :attr:`image_size` -> (N,) float64 image scores and N (h, w) float32 patch maps."""
        if len(frames) == 0:
            return np.zeros(0), []
        patch_maps, image_scores = self._run(frames)
        return image_scores.astype(np.float64), list(patch_maps)
