"""A gate checkpoint's held-out good scores: what its threshold was read off, for reading other targets without a refit."""

from __future__ import annotations

from pathlib import Path

import torch

from textile_defects.errors import DataError
from textile_defects.gate.threshold import threshold_for_specificity


def read_held_out_scores(path: str | Path) -> dict[str, float]:
    """``{original_id: score}`` of the good training originals a gate scored held out (``description.held_out_scores``)."""
    source = Path(path)
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
        scores = payload["description"]["held_out_scores"]
    except FileNotFoundError as exc:
        raise DataError(f"{source}: gate checkpoint not found; run the stage that writes it (cv_gate or train_gate).") from exc
    except Exception as exc:  # torch raises several unrelated types for foreign or truncated files
        raise DataError(f"{source}: no held-out good scores can be read from it ({exc}); rebuild the gate.") from exc
    if not scores:
        raise DataError(f"{source}: stores no held-out good scores; rebuild the gate.")
    return {str(key): float(value) for key, value in scores.items()}


def thresholds_for_targets(held_out: dict[str, float], targets: tuple[float, ...]) -> dict[float, float]:
    """The threshold each target specificity gives on these held-out scores (as the gate sets its own)."""
    return {target: threshold_for_specificity(list(held_out.values()), target) for target in targets}
