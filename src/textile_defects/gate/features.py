"""Patch features of a whole frame: intermediate encoder maps, locally pooled, concatenated.

As in PatchCore (Roth et al., CVPR 2022), a patch is described by mid-level
feature maps of an ImageNet encoder (generic enough to transfer to fabric,
local enough to see a thin line), each averaged over a small neighbourhood so
a patch also sees its surroundings, brought to one grid (the coarsest map's,
by area averaging, or the finest one's, by bilinear upsampling) and the
channels concatenated. The frame goes in at its own size and aspect ratio: a
1270x720 frame gives a 45x80 grid of patches at stride 16 with
efficientnet_lite0's ``_blocks.4`` and ``_blocks.10`` on the coarsest grid.
Each registered encoder names its own pair of maps (about stride 8 and 16,
``EncoderSpec.patch_layers``), which ``gate.layers: auto`` takes.

Each frame's patch features are then centred on their own mean (over the
frame's patches): a defect is a local departure from the frame's own fabric,
while a colour or exposure shared by the whole frame is not. On the built-in
sample this lifts the leave-out image AUROC from 0.90 to 0.99 (docs/gate.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textile_defects.errors import ConfigError


GRIDS: tuple[str, ...] = ("coarsest", "finest")
"""Which layer's grid the patches follow: the smallest map (fewer, cheaper patches) or the largest."""


class _Stop(Exception):
    """Raised by the hook on the deepest layer: the rest of the encoder is not needed."""


class PatchFeatureExtractor(nn.Module):
    """Maps a normalised (N, 3, H, W) batch to patch features (N, D, h, w).

    ``layers`` are module paths inside ``encoder`` (``encoder.get_submodule``),
    any order (``usable`` lists the paths an error suggests, ``encoder_name`` names it there); the grid (h, w) is that of the layer with the smallest map
    (``grid="coarsest"``) or the largest (``"finest"``). ``neighbourhood`` is
    the side of the average-pooling window (1 = none).
    The encoder's forward pass stops after the deepest layer needed.
    """

    def __init__(
        self,
        encoder: nn.Module,
        layers: Sequence[str],
        neighbourhood: int,
        grid: str = "coarsest",
        *,
        usable: Sequence[str] = (),
        encoder_name: str = "the encoder",
    ) -> None:
        super().__init__()
        if grid not in GRIDS:
            raise ConfigError(f"gate.grid: got {grid!r}; expected one of {list(GRIDS)}.")
        if not layers:
            raise ConfigError("gate.layers: name at least one encoder layer (module path), e.g. _blocks.4.")
        if neighbourhood < 1 or neighbourhood % 2 == 0:
            raise ConfigError(f"gate.neighbourhood: got {neighbourhood}; expected an odd integer >= 1.")
        known = dict(encoder.named_modules())
        unknown = [name for name in layers if name not in known]
        if unknown:
            listed = ", ".join(usable) if usable else ", ".join(list(known)[1:8]) + " ..."
            raise ConfigError(
                f"gate.layers: {unknown} are not modules of {encoder_name}; its feature maps are the module paths "
                f"{listed} (or set gate.layers: auto for the encoder's own patch maps)."
            )
        self.encoder = encoder.eval()
        self.layers = tuple(layers)
        self.neighbourhood = neighbourhood
        self.grid = grid
        self._maps: dict[str, torch.Tensor] = {}
        order = [name for name in known if name in self.layers]
        self._last = order[-1]
        for name in self.layers:
            known[name].register_forward_hook(self._hook(name))

    def _hook(self, name: str):  # type: ignore[no-untyped-def]
        def store(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self._maps[name] = output
            if len(self._maps) == len(self.layers):
                raise _Stop

        return store

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self._maps.clear()
        try:
            self.encoder(batch)
        except _Stop:
            pass
        else:  # a layer that never ran (e.g. inside a branch the forward skips)
            raise ConfigError(f"gate.layers: {sorted(set(self.layers) - set(self._maps))} never ran in the forward pass.")
        maps = [self._maps[name] for name in self.layers]
        self._maps.clear()
        pick = max if self.grid == "finest" else min
        grid = tuple(pick((m.shape[-2:] for m in maps), key=lambda size: size[0] * size[1]))
        pad = self.neighbourhood // 2
        pooled = []
        for feature_map in maps:
            if self.neighbourhood > 1:
                # count_include_pad=False: border patches average real neighbours only.
                feature_map = F.avg_pool2d(feature_map, self.neighbourhood, stride=1, padding=pad, count_include_pad=False)
            if feature_map.shape[-2:] != grid:
                if self.grid == "finest":
                    feature_map = F.interpolate(feature_map, size=grid, mode="bilinear", align_corners=False)
                else:
                    feature_map = F.adaptive_avg_pool2d(feature_map, grid)
            pooled.append(feature_map)
        return torch.cat(pooled, dim=1)


def normalise(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> the encoder's (N, 3, H, W) float input, channels-last in memory.

    Channels-last: the depthwise convolutions of the small encoders run about
    1.4x faster that way on CPU (measured in benchmarks/bench_gate.py).
    """
    batch = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).permute(0, 3, 1, 2).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((batch - mean_t) / std_t).contiguous(memory_format=torch.channels_last)


def patch_features(
    extractor: PatchFeatureExtractor, batch: torch.Tensor, *, centre: bool
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Patch features of a normalised batch as rows: ((N * h * w, D) float32, (h, w)).

    ``centre`` subtracts each frame's mean patch feature from its patches.
    """
    maps = extractor(batch)
    if centre:
        maps = maps - maps.mean(dim=(2, 3), keepdim=True)
    count, dim, height, width = maps.shape
    rows = maps.permute(0, 2, 3, 1).reshape(count * height * width, dim)
    return rows.contiguous().float(), (height, width)
