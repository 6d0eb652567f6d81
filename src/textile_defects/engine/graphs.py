"""The two models as the graphs the engine runs: uint8 frames in, the answers predict needs out.

Each wraps the very torch modules that PyTorch inference runs, so the export
traces the same arithmetic; nothing here re-implements a layer.

- :class:`ClassifierGraph`: (N, H, W, 3) uint8 frames at the checkpoint's
  ``image_size`` -> (N, C) class probabilities. The scaling to [0, 1], the
  normalisation and the head's antialiased resize are inside
  (:class:`~textile_defects.models.network.DefectClassifier` keeps them there).
- :class:`GateGraph`: (N, H, W, 3) uint8 frames at the gate's ``image_size`` ->
  (N, h, w) patch-score maps and (N,) image scores. The memory bank is a
  constant of the graph, so the gate is one file; the nearest-neighbour search
  and the image score (largest patch score inside the border ring) follow
  :func:`~textile_defects.gate.memory.nearest_distances` and
  :func:`~textile_defects.gate.model.interior_max` term by term.
"""

from __future__ import annotations

import torch
from torch import nn

from textile_defects.gate.model import Gate
from textile_defects.models.network import DefectClassifier


class ClassifierGraph(nn.Module):
    """(N, H, W, 3) uint8 -> (N, C) float32 softmax probabilities of ``model``."""

    strict_export = False
    """torch.export's tracer for it: the faster non-strict one."""

    def __init__(self, model: DefectClassifier) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        batch = frames.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return torch.softmax(self.model(batch).float(), dim=1)


class GateGraph(nn.Module):
    """(N, H, W, 3) uint8 -> ((N, h, w) patch scores, (N,) image scores) of ``gate``."""

    strict_export = True
    """torch.export's tracer for it: the strict one. The extractor's hook ends the encoder's forward
    pass with an exception after the deepest layer it reads, which the non-strict tracer cannot unwind."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.extractor = gate.extractor.eval()
        self.centre = gate.centre
        self.border = gate.border_patches
        bank = gate.bank.float().contiguous()
        self.register_buffer("bank", bank)
        self.register_buffer("bank_norms", (bank * bank).sum(dim=1))
        self.register_buffer("mean", torch.tensor(gate.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(gate.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = (frames.permute(0, 3, 1, 2).to(torch.float32) / 255.0 - self.mean) / self.std
        maps = self.extractor(batch.contiguous(memory_format=torch.channels_last))
        if self.centre:
            maps = maps - maps.mean(dim=(2, 3), keepdim=True)
        count, dim, height, width = maps.shape
        rows = maps.permute(0, 2, 3, 1).reshape(-1, dim)
        squared = torch.addmm(self.bank_norms.unsqueeze(0), rows, self.bank.T, alpha=-2.0)
        squared = squared + (rows * rows).sum(dim=1, keepdim=True)
        patch_scores = squared.min(dim=1).values.clamp_min(0.0).sqrt().reshape(count, height, width)
        b = self.border
        inner = patch_scores[:, b : height - b, b : width - b] if b else patch_scores
        return patch_scores, inner.amax(dim=(1, 2))
