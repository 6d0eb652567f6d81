"""Images into tensors: a decode-once uint8 cache of the shared preprocessing, and its Dataset.

Training, evaluation and inference all read pixels through
:func:`textile_defects.data.images.prepare_image`, so a model always sees
images prepared the same way. A training run decodes each stored image once
into a uint8 cache of shape (N, H, W, 3) (in memory, or a memory-mapped file
in a temporary folder when it would be large); epochs then only index that
cache, so JPEG decoding is paid once per run instead of once per epoch.
Batches stay uint8 until they reach the device (4x less to copy than
float32), where :func:`to_model_input` scales them to [0, 1].
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from textile_defects.data.images import prepare_image
from textile_defects.data.manifest import read_manifest, resolve
from textile_defects.errors import DataError
from textile_defects.utils.logs import progress
from textile_defects.utils.params import available_cores

log = logging.getLogger(__name__)


def _allocate(count: int, image_size: tuple[int, int], memory_limit_mb: float) -> np.ndarray:
    """An uninitialised (count, H, W, 3) uint8 array: in RAM, or memory-mapped when over the limit.

    The memory-mapped file is unlinked as soon as it is mapped: the mapping
    stays valid (also in forked DataLoader workers) and nothing is left behind
    when the process ends, however it ends.
    """
    width, height = image_size
    shape = (count, height, width, 3)
    size_mb = count * height * width * 3 / 2**20
    if size_mb <= memory_limit_mb:
        return np.empty(shape, dtype=np.uint8)
    log.info("image cache of %.0f MiB exceeds cache_memory_mb=%s: memory-mapping it", size_mb, memory_limit_mb)
    handle, name = tempfile.mkstemp(prefix="textile-image-cache-", suffix=".u8")
    try:
        os.close(handle)
        return np.memmap(name, dtype=np.uint8, mode="w+", shape=shape)
    finally:
        os.unlink(name)


def decode_images(
    paths: Sequence[str | os.PathLike[str]],
    image_size: tuple[int, int],
    *,
    workers: int | None = None,
    memory_limit_mb: float = 4096,
    desc: str = "decode",
) -> np.ndarray:
    """Decode every image once into a (N, H, W, 3) uint8 array, in parallel threads.

    PIL releases the GIL while decoding and resizing, so threads scale with
    cores without copying pixels between processes. ``workers`` defaults to the
    cores this process may use. Above ``memory_limit_mb`` the array is a
    ``np.memmap`` backed by an unlinked file in the temporary folder
    (``$TMPDIR``), which needs that much free disk.
    """
    cache = _allocate(len(paths), image_size, memory_limit_mb)
    workers = workers or available_cores()

    def fill(index: int) -> None:
        cache[index] = prepare_image(paths[index], image_size)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first decoding error here, in the caller's thread.
        list(progress(pool.map(fill, range(len(paths))), total=len(paths), desc=desc, unit="img"))
    return cache


def manifest_labels(manifest_path: str | Path, classes: Sequence[str]) -> tuple[list[Path], np.ndarray, list[str]]:
    """A manifest's image paths, integer labels (index into ``classes``) and original ids.

    Labels outside ``classes`` are a :class:`DataError` naming them.
    """
    rows = read_manifest(manifest_path)
    if not rows:
        raise DataError(f"{manifest_path}: manifest has no rows; check the stages before it (dvc repro).")
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({row["label"] for row in rows} - index.keys())
    if unknown:
        raise DataError(f"{manifest_path}: label(s) {unknown} are not in params 'classes' {list(classes)}.")
    paths = [resolve(manifest_path, row) for row in rows]
    labels = np.array([index[row["label"]] for row in rows], dtype=np.int64)
    return paths, labels, [row["original_id"] for row in rows]


def originals_per_class(labels: np.ndarray, original_ids: Sequence[str], num_classes: int) -> list[int]:
    """How many distinct original photos each class has: the n_c of class weighting.

    Augmented copies are not counted: 3 photos augmented into 600 images are
    still 3 observations of the class.
    """
    originals: list[set[str]] = [set() for _ in range(num_classes)]
    for label, original_id in zip(labels, original_ids, strict=True):
        originals[int(label)].add(original_id)
    return [len(ids) for ids in originals]


class CachedImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images from a decode-once cache: item ``i`` is ((H, W, 3) uint8 tensor, label).

    ``images`` is (N, H, W, 3) uint8, ``labels`` (N,) class indices and
    ``original_ids`` the N images' originals (their lineage).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, original_ids: Sequence[str]) -> None:
        if not len(images) == len(labels) == len(original_ids):
            raise ValueError(f"{len(images)} images, {len(labels)} labels, {len(original_ids)} original ids")
        self.images = images
        self.labels = labels
        self.original_ids = tuple(original_ids)

    @classmethod
    def from_manifest(
        cls,
        manifest_path: str | Path,
        classes: Sequence[str],
        image_size: tuple[int, int],
        *,
        memory_limit_mb: float = 4096,
        workers: int | None = None,
    ) -> CachedImageDataset:
        """Decode every image a manifest lists at ``image_size`` = (W, H)."""
        paths, labels, original_ids = manifest_labels(manifest_path, classes)
        images = decode_images(
            paths, image_size, workers=workers, memory_limit_mb=memory_limit_mb, desc=f"decode {Path(manifest_path).parent.name}"
        )
        return cls(images, labels, original_ids)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.images[index]), int(self.labels[index])


def to_model_input(images: torch.Tensor, device: torch.device, *, channels_last: bool = False) -> torch.Tensor:
    """A (N, H, W, 3) uint8 batch as the model's (N, 3, H, W) float input in [0, 1], on ``device``.

    The uint8 batch is copied to the device first (non-blocking from pinned
    memory) and converted there. The NHWC batch already is channels-last in
    memory; on CPU it is made NCHW-contiguous, which CPU kernels prefer.
    """
    batch = images.to(device, non_blocking=True).permute(0, 3, 1, 2)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return batch.to(dtype=torch.float32, memory_format=memory_format).div_(255.0)
