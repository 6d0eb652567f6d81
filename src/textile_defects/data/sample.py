"""The built-in sample dataset: photo-like knitted fabric with and without defects.

It stands in for real photos until a user points ``ingest.raw_dir`` at their
own. Every image is a pure function of ``(seed, label, index, width,
height)``, so the dataset, its masks and their PNG bytes are identical on
every run. The masks (8-bit, 255 = defect) are written apart from the images:
they are ground truth for checks (does augmentation keep a defect in frame?),
never training input.
"""

from __future__ import annotations

import io
import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from textile_defects.data.knit.camera import photograph
from textile_defects.data.knit.defects import DEFECT_DRAWERS
from textile_defects.data.knit.fabric import FabricFrame, Overlay, draw_stitch_tables
from textile_defects.data.knit.render import FabricRenderer, supersample_factor
from textile_defects.data.knit.style import draw_style
from textile_defects.errors import ConfigError
from textile_defects.utils.atomic import atomic_output_dir, atomic_write_bytes
from textile_defects.utils.logs import progress
from textile_defects.utils.params import SectionReader
from textile_defects.utils.seeding import rng_for

log = logging.getLogger(__name__)

GOOD_CLASS = "non_defect"
"""The class the generator draws as plain fabric; every other class is one of its defect drawers."""

SAMPLE_CLASSES: tuple[str, ...] = (GOOD_CLASS, *DEFECT_DRAWERS)
"""Classes the generator can draw: the good class and every defect drawer."""

MIN_SIDE_PX = 16
"""Smallest width or height the generator accepts; stitches need a few pixels."""

_PNG_OPTIONS = {"format": "PNG", "compress_level": 6, "compress_type": zlib.Z_RLE}
"""Fixed PNG settings: PIL writes no timestamps, so equal pixels give equal bytes.
zlib's run-length strategy, made for PNG data: on these noisy photos it is
smaller and about twice as fast as the default (long matches are rare in noise)."""


@dataclass(frozen=True)
class SampleSettings:
    """The ``sample`` section of params.yaml, validated."""

    seed: int
    width: int
    height: int
    counts: dict[str, int]
    contact_sheet_thumb_width: int

    @classmethod
    def from_section(cls, values: Any, classes: Sequence[str], path: str = "sample") -> SampleSettings:
        """Check section ``path`` against the pipeline's ``classes``; one :class:`ConfigError` lists every problem."""
        reader = SectionReader(values, path)
        settings = cls(
            seed=reader.integer("seed"),
            width=reader.integer("width", minimum=MIN_SIDE_PX),
            height=reader.integer("height", minimum=MIN_SIDE_PX),
            counts=reader.per_class("counts", classes, _read_count, all_required=False),
            contact_sheet_thumb_width=reader.integer("contact_sheet_thumb_width", minimum=MIN_SIDE_PX),
        )
        if "counts" in reader.values and not settings.counts:
            reader.problem("counts", reader.values["counts"], "at least one class of `classes` with its image count")
        reader.finish()
        return settings


def _read_count(reader: SectionReader, label: str) -> int:
    count = reader.integer(label, minimum=0)
    if label not in SAMPLE_CLASSES:
        reader.problem(
            label, count, f"a class the generator can draw ({', '.join(SAMPLE_CLASSES)}); use your own photos for others"
        )
    return count


def make_image(label: str, index: int, seed: int, width: int, height: int) -> tuple[Image.Image, Image.Image | None]:
    """One sample photo: ``(rgb, mask)``.

    ``rgb`` is an RGB image ``width`` x ``height``; ``mask`` is an 8-bit "L"
    image of the same size, 255 where the defect is and 0 elsewhere, or None
    for the good class. A pure function of its arguments: randomness comes
    from ``rng_for(seed, label, index)``. Any size shows the same field of
    view as a 1270 px wide photo, so small test images are downscaled
    versions of the full-size ones, not different fabric (only the sensor
    noise differs).
    """
    _check_size(width, height)
    if label != GOOD_CLASS and label not in DEFECT_DRAWERS:
        raise ConfigError(
            f"sample: no generator for class '{label}'; it can draw {', '.join(SAMPLE_CLASSES)}. "
            "Remove the class from sample.counts, or use your own photos via ingest.raw_dir."
        )
    rng = rng_for(seed, label, index)
    style = draw_style(rng)
    frame = FabricFrame.for_image(style, width, height)
    tables = draw_stitch_tables(frame, rng)
    overlay = DEFECT_DRAWERS[label](tables, frame, rng) if label in DEFECT_DRAWERS else Overlay()
    renderer = FabricRenderer(frame, tables, overlay)
    clean_rgb, defect = renderer.render(width, height, supersample_factor(width, style))
    image = Image.fromarray(photograph(clean_rgb, style, rng))
    if label == GOOD_CLASS:
        return image, None
    return image, Image.fromarray(defect.astype(np.uint8) * 255)


def _check_size(width: int, height: int) -> None:
    if width < MIN_SIDE_PX or height < MIN_SIDE_PX:
        raise ConfigError(
            f"sample: image size {width}x{height} is too small; "
            f"set sample.width and sample.height to at least {MIN_SIDE_PX} (the report's photos are 1270x720)."
        )


def image_name(label: str, index: int) -> str:
    """File name of sample image ``index`` of class ``label``, e.g. ``hole_001.png``."""
    return f"{label}_{index:03d}.png"


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **_PNG_OPTIONS)
    return buffer.getvalue()


def generate_sample(
    images_dir: Path, masks_dir: Path, counts: Mapping[str, int], seed: int, width: int, height: int
) -> list[Path]:
    """Write the sample dataset; return the image paths (under ``images_dir``), sorted.

    Layout: ``images_dir/<class>/<class>_<index:03d>.png`` for every class in
    ``counts`` and ``masks_dir/<class>/<same name>`` for defect classes only.
    Both folders are built aside and swapped in only when complete, so an
    interrupted run leaves the previous outputs (or none) in place.
    """
    _check_size(width, height)
    jobs = _jobs(counts)
    with atomic_output_dir(images_dir) as images_tmp, atomic_output_dir(masks_dir) as masks_tmp:
        for label, index in progress(jobs, desc="sample images", unit="img"):
            image, mask = make_image(label, index, seed, width, height)
            name = image_name(label, index)
            atomic_write_bytes(images_tmp / label / name, _png_bytes(image))
            if mask is not None:
                atomic_write_bytes(masks_tmp / label / name, _png_bytes(mask))
    log.info("wrote %d sample images (%dx%d) to %s, masks to %s", len(jobs), width, height, images_dir, masks_dir)
    return sorted(images_dir / label / image_name(label, index) for label, index in jobs)


def _jobs(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``(label, index)`` for every image to draw; validates the counts."""
    jobs = []
    for label, count in counts.items():
        if label != GOOD_CLASS and label not in DEFECT_DRAWERS:
            raise ConfigError(
                f"sample.counts: no generator for class '{label}'; known classes: {', '.join(SAMPLE_CLASSES)}."
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"sample.counts.{label}: expected a whole number >= 0, got {count!r}.")
        jobs.extend((label, index) for index in range(count))
    return jobs


# --- contact sheet ----------------------------------------------------------

_SHEET_BACKGROUND = (245, 245, 245)
_OUTLINE_RGB = (255, 0, 200)
"""Defect outline colour: magenta is rare in dyed yarn and visible on any shade."""


def write_contact_sheet(
    images_dir: Path,
    out_png: Path,
    thumb_width: int,
    masks_dir: Path | None = None,
    classes: Sequence[str] | None = None,
    columns: int = 5,
) -> Path:
    """Write a PNG grid of every image under ``images_dir/<class>/``, for people to look at.

    One block of rows per class (in ``classes`` order, else sorted folder
    names), a heading with the class name and count, and the file name under
    each thumbnail (``thumb_width`` px wide, aspect kept). Where
    ``masks_dir`` holds a mask of the same relative name, the defect is
    outlined in magenta just outside its mask, so the defect itself stays
    visible. Returns ``out_png``.
    """
    _check_thumb_width(thumb_width)
    groups = _class_groups(images_dir, classes)
    font = ImageFont.load_default(size=13)
    heading_font = ImageFont.load_default(size=18)
    thumbs = {path: _thumbnail(path, images_dir, masks_dir, thumb_width) for paths in groups.values() for path in paths}
    thumb_height = max((thumb.height for thumb in thumbs.values()), default=thumb_width)
    gap, caption_h, heading_h = 8, 18, 28
    cell_w, cell_h = thumb_width + gap, thumb_height + caption_h + gap
    width = gap + columns * cell_w
    height = gap + sum(heading_h + math.ceil(len(paths) / columns) * cell_h for paths in groups.values())
    sheet = Image.new("RGB", (width, max(height, heading_h)), _SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    top = gap
    for label, paths in groups.items():
        draw.text((gap, top + 4), f"{label} ({len(paths)})", fill=(0, 0, 0), font=heading_font)
        top += heading_h
        for position, path in enumerate(paths):
            x = gap + (position % columns) * cell_w
            y = top + (position // columns) * cell_h
            sheet.paste(thumbs[path], (x, y))
            draw.text((x, y + thumb_height + 2), path.name, fill=(40, 40, 40), font=font)
        top += math.ceil(len(paths) / columns) * cell_h
    atomic_write_bytes(out_png, _png_bytes(sheet))
    log.info("wrote contact sheet of %d images to %s", len(thumbs), out_png)
    return out_png


def _check_thumb_width(thumb_width: int) -> None:
    if thumb_width < MIN_SIDE_PX:
        raise ConfigError(
            f"params.yaml: sample.contact_sheet_thumb_width must be at least {MIN_SIDE_PX} px, got {thumb_width}."
        )


def _class_groups(images_dir: Path, classes: Sequence[str] | None) -> dict[str, list[Path]]:
    folders = sorted(p.name for p in images_dir.iterdir() if p.is_dir())
    order = [c for c in classes if c in folders] if classes is not None else folders
    return {label: sorted((images_dir / label).glob("*.png")) for label in order}


def _thumbnail(path: Path, images_dir: Path, masks_dir: Path | None, thumb_width: int) -> Image.Image:
    with Image.open(path) as image:
        thumb_size = (thumb_width, max(1, round(image.height * thumb_width / image.width)))
        thumb = image.convert("RGB").resize(thumb_size, Image.Resampling.LANCZOS)
    mask_path = None if masks_dir is None else masks_dir / path.relative_to(images_dir)
    if mask_path is not None and mask_path.is_file():
        with Image.open(mask_path) as mask:
            small = mask.convert("L").resize(thumb_size, Image.Resampling.BOX).point(lambda v: 255 if v else 0)
        # A 2 px ring just outside the (slightly grown) mask: marks without hiding.
        grown = small.filter(ImageFilter.MaxFilter(5))
        ring = np.array(grown.filter(ImageFilter.MaxFilter(5))) & ~np.array(grown)
        thumb.paste(_OUTLINE_RGB, mask=Image.fromarray(ring))
    return thumb
