"""Copies per original that keep the class distribution and an 80:20 split (the report's Step 5).

Every class is scaled by the same factor F, so the augmented set keeps the
original class distribution, and each class's F * n_c images are shared
80:20 between training and validation. With n_c originals of class c of
which v_c are held out for validation and t_c = n_c - v_c train::

    train copies per original = train_share * F * n_c / t_c
    val copies per original   = (1 - train_share) * F * n_c / v_c

rounded to whole copies (so the ratio is exact only when these divide evenly).
"""

from __future__ import annotations

from collections.abc import Mapping

from textile_defects.errors import ConfigError


def balanced_copies(
    originals: Mapping[str, int], val_originals: Mapping[str, int], scale: float, train_share: float = 0.8
) -> tuple[dict[str, int], dict[str, int]]:
    """``(train, val)`` copies per original, by class.

    ``originals`` counts every original photo per class, ``val_originals``
    those held out for validation (each class needs at least one on each
    side); ``scale`` is F, the factor every class grows by.
    """
    if scale <= 0:
        raise ConfigError(f"scale = {scale}; expected a positive growth factor (the report used 200).")
    if not 0.0 < train_share < 1.0:
        raise ConfigError(f"train_share = {train_share}; expected a share strictly between 0 and 1.")
    train: dict[str, int] = {}
    val: dict[str, int] = {}
    for label, total in originals.items():
        held_out = val_originals.get(label, 0)
        if not 0 < held_out < total:
            raise ConfigError(
                f"class {label!r}: {held_out} of {total} originals held out for validation; "
                "both sides need at least one original (check split.val_originals)."
            )
        train[label] = max(1, round(train_share * scale * total / (total - held_out)))
        val[label] = max(1, round((1.0 - train_share) * scale * total / held_out))
    return train, val
