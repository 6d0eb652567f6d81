"""Pictures for people: confusion matrices, misclassified images, training curves.

Each function returns PNG bytes, so the caller decides where (and how
atomically) they are written. Figures are built with matplotlib's
object-oriented API, not pyplot: no global state and no display needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from textile_defects.data.images import prepare_image

if TYPE_CHECKING:  # scoring pulls in torch; the CV and hold-out reports draw confusion matrices without it
    from textile_defects.evaluation.scoring import SetPredictions

_DPI = 100
_MISTAKE_COLOUR = "#b2182b"
# Curves drawn from a training history when its columns exist: (panel, metric, label, colour).
# Each metric is drawn solid for training and dashed for validation, in one colour.
_CURVES: tuple[tuple[str, str, str, str], ...] = (
    ("loss", "loss", "loss", "C0"),
    ("f1", "f1_macro", "F1 macro", "C0"),
    ("f1", "f1_weighted", "F1 weighted", "C1"),
)
_SPLITS: tuple[tuple[str, str, str], ...] = (("train", "train", "-"), ("val", "validation", "--"))


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes, without the matplotlib version stamp (stable across upgrades); every report figure goes through it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _matrix_panel(axes: Axes, values: np.ndarray, labels: np.ndarray, classes: Sequence[str], title: str) -> None:
    """One annotated heat map: ``values`` (C, C) in [0, 1] sets the colour, ``labels`` the text."""
    axes.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, classes, rotation=35, ha="right")
    axes.set_yticks(ticks, classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(title)
    for (row, column), text in np.ndenumerate(labels):
        colour = "white" if values[row, column] > 0.55 else "black"
        axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=9)


def confusion_png(counts: np.ndarray, classes: Sequence[str], title: str) -> bytes:
    """Confusion matrix as counts and row-normalised (recall per actual class), side by side.

    ``counts`` is (C, C), rows actual, columns predicted. A class absent from
    the set has an empty row, shown as dashes rather than a fake 0%.
    """
    support = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(support > 0, counts / np.maximum(support, 1), 0.0)
    count_text = counts.astype(str)
    ratio_text = np.where(support > 0, np.char.mod("%.2f", normalised), "-")
    figure = Figure(figsize=(4.2 * 2 + 1.0, 4.6), layout="constrained")
    figure.suptitle(title)
    left, right = figure.subplots(1, 2)
    _matrix_panel(left, counts / max(int(counts.max()), 1), count_text, classes, "counts")
    _matrix_panel(right, normalised, ratio_text, classes, "row-normalised (recall)")
    return png_bytes(figure)


def _thumbnail(path: str, width: int) -> np.ndarray:
    """A (h, width, 3) uint8 thumbnail keeping the file's aspect ratio."""
    with Image.open(path) as image:
        source_width, source_height = image.size
    height = max(1, round(width * source_height / source_width))
    return prepare_image(path, (width, height))


def misclassified_png(predictions: SetPredictions, title: str, max_images: int, thumb_width: int) -> bytes:
    """A grid of the wrongly classified images, most confident mistakes first.

    Each tile shows the true class, the predicted class and the model's
    probability for it, and the file name. At most ``max_images`` tiles of
    ``thumb_width`` pixels; when nothing is misclassified the figure says so.
    """
    wrong = np.flatnonzero(predictions.y_pred != predictions.y_true)
    wrong = wrong[np.argsort(-predictions.confidence[wrong], kind="stable")][:max_images]
    total_wrong = int(np.sum(predictions.y_pred != predictions.y_true))
    heading = f"{title}: {total_wrong} of {len(predictions.y_true)} misclassified"
    if total_wrong > len(wrong):
        heading += f" (the {len(wrong)} most confident shown)"
    if len(wrong) == 0:
        figure = Figure(figsize=(6, 1.2))
        figure.text(0.5, 0.5, heading, ha="center", va="center")
        return png_bytes(figure)
    thumbs = [_thumbnail(str(predictions.paths[i]), thumb_width) for i in wrong]
    columns = min(4, len(thumbs))
    rows = math.ceil(len(thumbs) / columns)
    aspect = thumbs[0].shape[0] / thumbs[0].shape[1]
    tile_width = max(2.5, 1.1 * thumb_width / _DPI)  # inches: about one screen pixel per thumbnail pixel
    figure = Figure(figsize=(tile_width * columns, rows * (tile_width * aspect + 0.9) + 0.5), layout="constrained")
    figure.suptitle(heading)
    for axes in figure.subplots(rows, columns, squeeze=False).flat:
        axes.set_axis_off()
    for axes, index, thumb in zip(figure.axes, wrong, thumbs, strict=False):
        true_name = predictions.classes[predictions.y_true[index]]
        predicted_name = predictions.classes[predictions.y_pred[index]]
        axes.imshow(thumb)
        axes.set_title(
            f"true: {true_name}\npredicted: {predicted_name} ({predictions.confidence[index]:.2f})",
            fontsize=9,
            color=_MISTAKE_COLOUR,
        )
        axes.text(0.5, -0.04, predictions.paths[index].name, transform=axes.transAxes, ha="center", va="top", fontsize=7)
    return png_bytes(figure)


KEPT_BY = {"best_val": "best val F1 macro", "last": "last epoch"}
"""How a training's ``selection`` chose the epoch its checkpoint holds, in words."""


def epoch_marker(
    history: Mapping[str, np.ndarray], kept_epoch: int | None, selection: str | None
) -> tuple[float | None, str]:
    """The epoch to mark on a history's curves and its legend: the kept one, else the best by val F1 macro."""
    if kept_epoch is not None:
        return float(kept_epoch), f"kept epoch ({kept_epoch}, {KEPT_BY.get(selection or '', selection or 'as stored')})"
    if "val_f1_macro" in history and len(history["epoch"]):
        best = float(history["epoch"][int(np.nanargmax(history["val_f1_macro"]))])
        return best, f"best epoch ({best:g})"
    return None, ""


def training_curves_png(
    history: Mapping[str, np.ndarray], title: str, *, kept_epoch: int | None = None, selection: str | None = None
) -> bytes:
    """Loss and F1 per epoch, train against validation, from a training history.

    ``history`` maps column names to (E,) arrays and must hold ``epoch``;
    curves whose columns are missing are left out. The checkpoint's epoch is
    marked with a dotted line: ``kept_epoch`` (chosen by ``selection``) when
    given, else the epoch with the best validation F1 macro, if there is one.
    """
    epochs = history["epoch"]
    figure = Figure(figsize=(10, 4), layout="constrained")
    figure.suptitle(title)
    panels = dict(zip(("loss", "f1"), figure.subplots(1, 2), strict=True))
    for panel, metric, label, colour in _CURVES:
        for prefix, split_name, style in _SPLITS:
            column = f"{prefix}_{metric}"
            if column in history:
                panels[panel].plot(
                    epochs, history[column], style, color=colour, marker="o", markersize=3, label=f"{split_name} {label}"
                )
    marked, label = epoch_marker(history, kept_epoch, selection)
    if marked is not None:
        for axes in panels.values():
            axes.axvline(marked, color="grey", linestyle=":", linewidth=1.2, label=label)
    panels["loss"].set_ylabel("loss")
    panels["f1"].set_ylabel("F1")
    panels["f1"].set_ylim(0.0, 1.05)
    for axes in panels.values():
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return png_bytes(figure)
