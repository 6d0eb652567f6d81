"""The one place the cross-validation calls the training API (:mod:`textile_defects.training`).

Kept apart from :mod:`textile_defects.crossval.inference_adapter` so that each
CV stage imports, and lists in its DVC deps, only the code it runs: a change
to the inference path re-scores, it never retrains 20 models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textile_defects.errors import ConfigError
from textile_defects.training.config import TrainConfig
from textile_defects.training.trainer import TrainJob, train


def train_fold_model(
    settings: Mapping[str, Any],
    section_name: str,
    *,
    variant: str,
    encoder: str,
    weights: str,
    classes: Sequence[str],
    good_class: str,
    train_manifest: Path,
    model_path: Path,
    history_path: Path,
    state_root: Path | None = None,
) -> None:
    """Train one fold's model on ``train_manifest`` alone (no validation set: a fixed schedule).

    ``settings`` is a complete training section (the variant's, with the CV
    overrides applied); ``section_name`` names it in error messages;
    ``state_root`` keeps each epoch's state there, so that a killed training resumes.
    """
    config = TrainConfig.from_section(settings, section_name, encoder=encoder)
    if config.selection != "last":
        raise ConfigError(
            f"{section_name}: selection is {config.selection!r}; the cross-validation trains on a fixed schedule "
            "(selection: last) because its only held-out photos are the ones it scores. "
            "Set crossval.train_overrides.selection: last."
        )
    train(
        TrainJob(
            variant=f"train_{variant}",
            config=config,
            weights=weights,
            classes=tuple(classes),
            good_class=good_class,
            train_manifest=train_manifest,
            val_manifest=None,
            model_path=model_path,
            history_path=history_path,
            state_root=state_root,
        )
    )
