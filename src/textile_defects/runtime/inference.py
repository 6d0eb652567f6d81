"""Class probabilities for image files: the one inference path.

The evaluate stage and the predict CLI both call :func:`predict_files`, so a
photo scored by one gets the same probabilities from the other. Pixels are
read with :func:`textile_defects.data.images.prepare_image`, the preprocessing
of ingest and training; nothing here resizes or normalises on its own. Nothing
here imports training code or changes torch's global settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from textile_defects.data.images import prepare_image
from textile_defects.data.loading import to_model_input
from textile_defects.errors import DataError
from textile_defects.runtime.devices import DeviceSetup
from textile_defects.utils.logs import progress
from textile_defects.utils.params import available_cores


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
    """One file's outcome: (C,) class probabilities summing to 1, or why it could not be read."""

    path: Path
    probabilities: np.ndarray | None
    error: str | None = None


def _decode_or_error(path: Path, image_size: tuple[int, int]) -> np.ndarray | str:
    """The (H, W, 3) uint8 image, or the message saying why it cannot be used."""
    try:
        return prepare_image(path, image_size)
    except DataError as exc:
        # The loader's own message advises re-running a stage; a photo handed to
        # predict has no stage, so say only what is wrong with the file.
        return f"{path}: not a readable image ({exc.__cause__ or exc})"
    except OSError as exc:  # e.g. a file removed or unreadable between listing and reading
        return f"{path}: cannot read ({exc})"


@torch.inference_mode()
def probabilities(model: torch.nn.Module, images: Sequence[np.ndarray], device: DeviceSetup) -> np.ndarray:
    """Softmax of the model's logits for (H, W, 3) uint8 images prepared at its ``image_size``: (N, C) float64.

    The model must already be in eval mode on ``device`` (:func:`predict_files` puts it there).
    """
    batch = to_model_input(torch.from_numpy(np.stack(images)), device.device, channels_last=device.channels_last)
    with device.autocast():
        logits = model(batch)
    return torch.softmax(logits.float(), dim=1).cpu().numpy().astype(np.float64)


def predict_files(
    model: torch.nn.Module,
    image_size: tuple[int, int],
    paths: Sequence[Path],
    device: DeviceSetup,
    *,
    batch_size: int,
    workers: int | None = None,
    desc: str = "predict",
) -> Iterator[ImagePrediction]:
    """Yield one :class:`ImagePrediction` per path, in order, batch by batch.

    ``image_size`` is the (W, H) the model reads (its checkpoint says which).
    A file that cannot be decoded yields a prediction with ``error`` set and
    does not stop the batch; the caller decides whether that is fatal.
    Images of one batch are decoded in ``workers`` threads (PIL releases the
    GIL while decoding). The model is put in eval mode on ``device``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    model.eval().to(device.device)
    if device.channels_last:
        model.to(memory_format=torch.channels_last)
    workers = workers or min(batch_size, available_cores())
    with ThreadPoolExecutor(max_workers=workers) as pool, progress(total=len(paths), desc=desc, unit="img") as bar:
        for start in range(0, len(paths), batch_size):
            chunk = list(paths[start : start + batch_size])
            decoded = list(pool.map(lambda p: _decode_or_error(p, image_size), chunk))
            readable = [image for image in decoded if isinstance(image, np.ndarray)]
            batch = iter(probabilities(model, readable, device)) if readable else iter(())
            for path, image in zip(chunk, decoded, strict=True):
                if isinstance(image, str):
                    yield ImagePrediction(path, None, image)
                else:
                    yield ImagePrediction(path, next(batch))
            bar.update(len(chunk))
