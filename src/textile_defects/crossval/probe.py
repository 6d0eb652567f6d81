"""The frozen-feature reference: logistic regression on pooled ImageNet features.

Fitted per fold on the features of the fold's UN-augmented training
originals and scored on the originals the fold holds out: if fine-tuning does
not beat this, the fine-tuning is not earning its cost on these photos.
Features are computed once for all originals (they depend on the encoder and
its weights, not on the fold); see :mod:`textile_defects.crossval.inference_adapter`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textile_defects.crossval.config import ProbeConfig
from textile_defects.errors import DataError
from textile_defects.utils.atomic import atomic_write_bytes


def fit_predict(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    scored_features: np.ndarray,
    num_classes: int,
    *,
    c: float,
    max_iter: int,
    seed: int,
) -> np.ndarray:
    """Class probabilities (M, num_classes) for ``scored_features`` (M, D).

    The model is fitted on ``train_features`` (N, D) with ``train_labels``
    (N,) class indices: features standardised with the training statistics,
    then a multinomial logistic regression with L2 strength ``1 / c`` and
    class weights inversely proportional to class frequency (the classes are
    1 to 40 photos here). Every class must be present in the training rows,
    so each probability column means the same class in every fold.
    """
    missing = sorted(set(range(num_classes)) - set(np.unique(train_labels).tolist()))
    if missing:
        raise DataError(f"probe: no training original of class index(es) {missing}; the fold plan must give every class one.")
    # scikit-learn here, not at the top: the feature stage imports this module and needs none of it.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter, random_state=seed),
    )
    model.fit(train_features, train_labels)
    probabilities = np.zeros((len(scored_features), num_classes), dtype=np.float64)
    # predict_proba's columns follow the fitted classes_; put them at their class index.
    probabilities[:, model.classes_] = model.predict_proba(scored_features)
    return probabilities


def probe_probabilities(
    train_features: Mapping[str, np.ndarray],
    train: Sequence[Mapping[str, str]],
    scored_features: Mapping[str, np.ndarray],
    scored: Sequence[Mapping[str, str]],
    classes: Sequence[str],
    probe: ProbeConfig,
    *,
    source: str,
) -> np.ndarray:
    """The probe's class probabilities for the ``scored`` manifest rows, fitted on the ``train`` rows.

    The one way the CV's folds, the hold-out and the sweep fit the probe: rows
    are manifest rows (``original_id``, ``label``), features are looked up by
    original id (``source`` names where they came from, for the error).
    """
    missing = sorted(
        {row["original_id"] for row in train} - train_features.keys()
        | {row["original_id"] for row in scored} - scored_features.keys()
    )
    if missing:
        raise DataError(f"{source}: no features for {missing[:10]}; re-run the stage that computes them.")
    index = {name: i for i, name in enumerate(classes)}
    return fit_predict(
        np.stack([train_features[row["original_id"]] for row in train]),
        np.array([index[row["label"]] for row in train]),
        np.stack([scored_features[row["original_id"]] for row in scored]),
        len(classes),
        c=probe.c,
        max_iter=probe.max_iter,
        seed=probe.seed,
    )


FEATURES_FILE = "features.npy"
IDS_FILE = "original_ids.txt"


def save_features(folder: Path, original_ids: Sequence[str], features: np.ndarray) -> None:
    """Write (N, D) float32 features and their N original ids into ``folder`` (byte-reproducible, no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
    atomic_write_bytes(Path(folder) / FEATURES_FILE, buffer.getvalue())
    atomic_write_bytes(Path(folder) / IDS_FILE, "".join(f"{original}\n" for original in original_ids).encode("utf-8"))


def load_features(folder: Path) -> dict[str, np.ndarray]:
    """``{original_id: (D,) features}`` from :func:`save_features`'s folder."""
    features_path, ids_path = Path(folder) / FEATURES_FILE, Path(folder) / IDS_FILE
    if not (features_path.is_file() and ids_path.is_file()):
        raise DataError(f"{folder}: probe features not found; run `dvc repro crossval/dvc.yaml`.")
    features = np.load(features_path, allow_pickle=False)
    ids = ids_path.read_text(encoding="utf-8").splitlines()
    if features.ndim != 2 or len(ids) != len(features):
        raise DataError(f"{folder}: {len(ids)} ids for features of shape {features.shape}; re-run cv_features.")
    return dict(zip(ids, features, strict=True))
