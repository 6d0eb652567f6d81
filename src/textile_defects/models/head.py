"""The report's learned downsampling head, and plain resizing for comparison.

Both take a normalised image at its stored resolution (e.g. 1270 x 720) and
return the input the encoder reads, ``output_size`` = (W_out, H_out):
(N, 3, H, W) -> (N, 3, H_out, W_out). A square (the encoder's own 224, as
the report feeds it) squeezes the 16:9 frame; a 16:9 size (e.g. 320 x 180)
keeps its proportions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from textile_defects.errors import ConfigError

HEADS = ("learned", "resize")


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    # Antialiasing matters when shrinking 1270 px to 224: without it, bilinear
    # sampling skips pixels and thin defects (a needle line) can vanish.
    # Float32 because the antialiased kernel has no bfloat16 version on CPU;
    # under autocast the encoder's first convolution casts back down.
    return F.interpolate(x.float(), size=(size[1], size[0]), mode="bilinear", align_corners=False, antialias=True)


def _as_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _binomial_kernel(size: int) -> torch.Tensor:
    row = torch.tensor([math.comb(size - 1, k) for k in range(size)], dtype=torch.float32)
    kernel = torch.outer(row, row)
    return kernel / kernel.sum()


def _init_as_blur(conv: nn.Conv2d) -> None:
    # Start as a per-channel binomial (near-Gaussian) low-pass filter: an
    # anti-aliased downsampler, so the pretrained encoder sees the fabric, not
    # noise, from the first step; training then learns what to keep.
    with torch.no_grad():
        conv.weight.zero_()
        kernel = _binomial_kernel(conv.kernel_size[0])
        for channel in range(conv.out_channels):
            conv.weight[channel, channel] = kernel


class LearnedDownsampler(nn.Module):
    """Two strided convolutions (kernels 7 and 5, stride 2, 3 -> 3 channels), then bilinear resize.

    conv7/2 -> BatchNorm -> LeakyReLU -> Dropout -> conv5/2 -> BatchNorm ->
    resize to ``output_size`` (W, H). The convolutions pad to "same", so the
    map before resizing is ceil(H/4) x ceil(W/4) (1270 x 720 -> 318 x 180).

    LeakyReLU(0.1), and none after the last convolution: the encoder expects
    a normalised image whose values are negative as often as positive, and
    with only three channels a ReLU would discard the sign for good; a leaky
    slope keeps the map invertible while still letting the head be non-linear.
    """

    def __init__(self, output_size: int | tuple[int, int], dropout: float) -> None:
        super().__init__()
        self.output_size = _as_pair(output_size)
        self.conv1 = nn.Conv2d(3, 3, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(3)
        self.act = nn.LeakyReLU(0.1)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(3, 3, kernel_size=5, stride=2, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(3)
        _init_as_blur(self.conv1)
        _init_as_blur(self.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised image -> (N, 3, H_out, W_out), (W_out, H_out) = ``output_size``."""
        x = self.dropout(self.act(self.bn1(self.conv1(x))))
        x = self.bn2(self.conv2(x))
        return _resize(x, self.output_size)


class ResizeHead(nn.Module):
    """Plain antialiased bilinear resizing, no learned parameters: the comparison for the learned head."""

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        super().__init__()
        self.output_size = _as_pair(output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 3, H_out, W_out), (W_out, H_out) = ``output_size``."""
        return _resize(x, self.output_size)


def build_head(kind: str, output_size: int | tuple[int, int], dropout: float) -> nn.Module:
    """The head named ``kind`` ("learned" or "resize") producing (W, H) = ``output_size`` (an int: a square)."""
    if kind == "learned":
        return LearnedDownsampler(output_size, dropout)
    if kind == "resize":
        return ResizeHead(output_size)
    raise ConfigError(f"head: unknown head {kind!r}; choose one of {', '.join(HEADS)}.")
