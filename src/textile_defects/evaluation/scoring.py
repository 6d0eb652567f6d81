"""One model's predictions on one manifest of labelled images."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from textile_defects.data.loading import manifest_labels
from textile_defects.errors import DataError
from textile_defects.runtime.devices import DeviceSetup
from textile_defects.runtime.inference import predict_files
from textile_defects.stats.metrics import confusion_counts


@dataclasses.dataclass(frozen=True)
class SetPredictions:
    """A model's view of one evaluation set, in manifest order.

    ``y_true`` is (N,) class indices into ``classes``; ``probabilities`` is
    (N, C) softmax output, rows summing to 1; ``original_ids`` names the
    photo each image descends from (augmented copies share it), so that
    intervals count photos, not copies.
    """

    name: str
    classes: tuple[str, ...]
    paths: tuple[Path, ...]
    y_true: np.ndarray
    probabilities: np.ndarray
    original_ids: tuple[str, ...]

    @property
    def y_pred(self) -> np.ndarray:
        """(N,) predicted class indices (the most probable class)."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) probability of the predicted class."""
        return self.probabilities.max(axis=1)

    def confusion_counts(self) -> np.ndarray:
        """(C, C) counts, rows = actual class, columns = predicted class."""
        return confusion_counts(self.y_true, self.y_pred, len(self.classes))


def score_manifest(
    model: torch.nn.Module,
    classes: Sequence[str],
    image_size: tuple[int, int],
    name: str,
    manifest_path: Path,
    device: DeviceSetup,
    *,
    batch_size: int,
    workers: int | None = None,
) -> SetPredictions:
    """Predict every image a manifest lists; any unreadable image is a :class:`DataError`.

    Unlike the predict CLI, evaluation does not skip files: a metric over a
    silently shrunken set would be wrong, so all bad files are listed at once.
    """
    paths, labels, original_ids = manifest_labels(manifest_path, classes)
    predictions = list(
        predict_files(model, image_size, paths, device, batch_size=batch_size, workers=workers, desc=f"evaluate {name}")
    )
    errors = [p.error for p in predictions if p.error is not None]
    if errors:
        listed = "\n  ".join(errors)
        raise DataError(
            f"{manifest_path}: {len(errors)} image(s) cannot be read; re-run the stages that wrote them "
            f"(dvc repro) or restore them (dvc checkout):\n  {listed}"
        )
    return SetPredictions(
        name=name,
        classes=tuple(classes),
        paths=tuple(paths),
        y_true=labels,
        probabilities=np.stack([p.probabilities for p in predictions]),
        original_ids=tuple(original_ids),
    )
