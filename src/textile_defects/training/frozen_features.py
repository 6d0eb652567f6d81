"""Train the classifier on features computed once, while nothing before it trains.

With the encoder frozen and the plain resizing head (no parameters), the
trunk (normalisation -> head -> encoder) computes the same function in every
epoch: the frozen encoder runs in eval mode, and the stored images are the
augmented copies themselves (nothing is drawn on the fly). Recomputing it each
epoch is the whole cost of a frozen epoch, so each image's pooled features are
computed once, in dataset order, and the classifier trains on them.

What stays the same: the draws, the batches and the random numbers. The
feature loaders mirror the image loaders (same sampler object, batch size and
``drop_last``), and a DataLoader draws one number from the global generator
per pass whatever it loads, so dropout in the classifier sees the same stream.
The features themselves are computed without a DataLoader (no draw). What may
differ: the last float bits of a feature, because the encoder ran on batches
of another composition (CPU kernels block by batch size).
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from textile_defects.data.loading import to_model_input
from textile_defects.models.network import DefectClassifier
from textile_defects.runtime.devices import DeviceSetup
from textile_defects.utils.logs import progress

log = logging.getLogger(__name__)


def can_cache(model: DefectClassifier, loaders: tuple[object, ...], *, distributed: bool) -> bool:
    """Whether the trunk is frozen and every loader can be mirrored (one process, real DataLoaders)."""
    if distributed or model.trunk_trains:
        return False
    return all(loader is None or isinstance(loader, DataLoader) for loader in loaders)


def trunk_features(
    model: DefectClassifier, dataset: Dataset, setup: DeviceSetup, batch_size: int, desc: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's (feature_dim,) trunk output and its label, in dataset order, on ``setup.device``."""
    model.eval()
    features: list[torch.Tensor] = []
    labels: list[int] = []
    size = len(dataset)  # type: ignore[arg-type]
    with torch.no_grad():
        for start in progress(range(0, size, batch_size), desc=desc, leave=False, unit="batch"):
            items = [dataset[index] for index in range(start, min(start + batch_size, size))]
            images = torch.stack([image for image, _ in items])
            labels.extend(int(label) for _, label in items)
            inputs = to_model_input(images, setup.device, channels_last=setup.channels_last)
            with setup.autocast():
                features.append(model.features(inputs))
    return torch.cat(features), torch.as_tensor(labels, dtype=torch.long, device=setup.device)


def mirror_loader(loader: DataLoader, features: torch.Tensor, labels: torch.Tensor) -> DataLoader:
    """A loader of (features, label) drawing exactly the batches ``loader`` draws."""
    return DataLoader(
        TensorDataset(features, labels),
        sampler=loader.sampler,
        batch_size=loader.batch_size,
        drop_last=loader.drop_last,
        generator=loader.generator,
    )


@dataclasses.dataclass
class FeatureLoaders:
    """The training and (optional) validation loaders over cached trunk features."""

    train: DataLoader
    val: DataLoader | None

    @classmethod
    def build(
        cls, model: DefectClassifier, train_loader: DataLoader, val_loader: DataLoader | None, setup: DeviceSetup
    ) -> FeatureLoaders:
        """Compute every training (and validation) image's features once; mirror both loaders."""
        train = _mirrored(model, train_loader, setup, "train")
        val = None if val_loader is None else _mirrored(model, val_loader, setup, "val")
        log.info(
            "trunk frozen: features of %d training and %d validation images computed once; the classifier trains on them",
            len(train.dataset), 0 if val is None else len(val.dataset),  # type: ignore[arg-type]
        )
        return cls(train, val)


def _mirrored(model: DefectClassifier, loader: DataLoader, setup: DeviceSetup, name: str) -> DataLoader:
    features, labels = trunk_features(model, loader.dataset, setup, loader.batch_size or 1, f"{name} features (frozen trunk)")
    return mirror_loader(loader, features, labels)


def on_device(features: torch.Tensor, device: torch.device, *, channels_last: bool = False) -> torch.Tensor:
    """Cached features as a batch's model input (already on the device; the signature of ``to_model_input``)."""
    return features.to(device, non_blocking=True)
