"""Reading one image file, checking it, and turning it into upright 8-bit RGB pixels.

Everything here is about a single file; walking folders, labels and
duplicates live in :mod:`textile_defects.data.ingest`. Two entry points
share one conversion (:func:`upright_rgb8`): :func:`normalise_file` (ingest:
strict checks, full size, PNG bytes) and :func:`prepare_image` (training,
evaluation and predict: pixels resized to the model's input).

The normal form every later stage can rely on:

- EXIF orientation applied (the pixels are upright, the tag is gone);
- 8-bit RGB, whatever the source mode: grayscale, 1-bit, palette, CMYK,
  16-bit grayscale (scaled to 0..255, not clipped), with or without alpha;
- transparency composited onto white, the way image viewers show it
  (the colour stored under fully transparent pixels is arbitrary, often black);
- PNG with no metadata (no EXIF, ICC profile, DPI or text chunks), so equal
  pixels give equal bytes and the file's SHA-256 identifies the picture.

ICC profiles are dropped, not applied: pixel values are kept as stored.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from textile_defects.errors import DataError

SUPPORTED_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
"""File-name endings read as images, compared case-insensitively."""

# Pillow's names for the container formats we accept, and the suffixes that
# go with each. MPO is what Pillow calls a camera JPEG carrying extra frames
# (a depth map, a preview); its first frame is an ordinary JPEG.
_SUFFIXES_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "JPEG": (".jpg", ".jpeg"),
    "MPO": (".jpg", ".jpeg"),
    "PNG": (".png",),
}

# Files and folders that operating systems, archivers and NAS boxes leave
# behind; never data. Names starting with "." (.DS_Store, ._x AppleDouble
# files, .thumbnails) are ignored as well.
IGNORED_NAMES: frozenset[str] = frozenset({"Thumbs.db", "desktop.ini", "__MACOSX", "@eaDir", "Icon\r"})

_EXIF_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MAX = 65535
# Source modes converted by Pillow's own convert("RGB") without loss of meaning.
_DIRECT_TO_RGB_MODES = frozenset({"1", "L", "P", "RGB", "CMYK", "YCbCr"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
# zlib level 1: on noisy 1270x720 fabric photos it encodes in ~0.6x the time
# of Pillow's default level 6 for ~1.1x the bytes; encoding dominates ingest.
_PNG_COMPRESS_LEVEL = 1

RESIZE_FILTER = "bilinear"
"""The one resizing filter (PIL's bilinear, antialiased when shrinking); checkpoints record its name."""
_RESAMPLE = Image.Resampling.BILINEAR


class ImageProblem(Exception):
    """A file that cannot be used as an image.

    ``kind`` is a short machine-readable name (``empty_file``,
    ``not_an_image``, ``unsupported_format``, ``truncated``, ``unreadable``,
    ``too_large``, ``unsupported_mode``); ``message`` says what is wrong and
    ``action`` what to do about it.
    """

    def __init__(self, kind: str, message: str, action: str) -> None:
        super().__init__(f"{message}; {action}")
        self.kind = kind
        self.message = message
        self.action = action


@dataclass(frozen=True)
class NormalisedImage:
    """One raw file in normal form.

    ``png_bytes`` is the 8-bit RGB PNG to write; ``width`` and ``height`` are
    its size in pixels (after EXIF rotation). ``source_format`` and
    ``source_mode`` are Pillow's names for what the file held;
    ``exif_orientation`` is the EXIF tag value that was applied (1 = none).
    ``notes`` are warnings worth a line in the ingest report.
    """

    png_bytes: bytes
    width: int
    height: int
    source_format: str
    source_mode: str
    exif_orientation: int
    notes: tuple[str, ...]


def has_supported_suffix(path: str | Path) -> bool:
    """True for ``.jpg``, ``.jpeg`` and ``.png`` in any letter case."""
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def is_ignored_name(name: str) -> bool:
    """True for hidden and operating-system housekeeping files and folders."""
    return name.startswith(".") or name in IGNORED_NAMES


def normalise_file(path: str | Path) -> NormalisedImage:
    """Read ``path`` completely and return it in normal form (see module docstring).

    Raises :class:`ImageProblem` for anything that is not a complete, readable
    JPEG or PNG in a colour mode we can convert. Only reads ``path``.
    """
    checked = read_checked(path)
    return NormalisedImage(
        png_bytes=encode_png(checked.rgb),
        width=checked.rgb.width,
        height=checked.rgb.height,
        source_format=checked.source_format,
        source_mode=checked.source_mode,
        exif_orientation=checked.exif_orientation,
        notes=checked.notes,
    )


@dataclass(frozen=True)
class CheckedImage:
    """One file read completely with ingest's checks: ``rgb`` upright 8-bit RGB at full size, and what the file held."""

    rgb: Image.Image
    source_format: str
    source_mode: str
    exif_orientation: int
    notes: tuple[str, ...]


def read_checked(path: str | Path) -> CheckedImage:
    """Read ``path`` as ingest does (every check of :func:`normalise_file`), without encoding a PNG.

    Raises :class:`ImageProblem` for anything ingest would refuse for its content
    (the size check is the caller's: ingest's minimum is a setting).
    """
    notes: list[str] = []
    image = _decode_fully(Path(path), notes)
    rgb, orientation = upright_rgb8(image, notes)
    return CheckedImage(rgb, str(image.format), image.mode, orientation, tuple(notes))


def upright_rgb8(image: Image.Image, notes: list[str] | None = None) -> tuple[Image.Image, int]:
    """``image`` upright (EXIF orientation applied) in 8-bit RGB (see :func:`to_rgb8`), and the orientation applied."""
    notes = notes if notes is not None else []
    upright, orientation = _apply_exif_orientation(image, notes)
    return to_rgb8(upright, notes), orientation


def prepare_image(source: str | os.PathLike[str] | Image.Image, image_size: tuple[int, int]) -> np.ndarray:
    """THE model input of one image: (H, W, 3) uint8 RGB at ``image_size`` = (W, H).

    ``source`` is a file or an opened image. It is made upright and 8-bit RGB
    exactly as ingest does (:func:`upright_rgb8`: EXIF orientation, 16-bit
    scaled, alpha on white, palette, CMYK, grayscale), then resized with
    :data:`RESIZE_FILTER`, ignoring aspect ratio (as the model does); an image
    already at ``image_size`` is not resampled. Training, evaluation and
    predict all read pixels here, so a photo is seen the same way by each.
    Raises :class:`DataError` naming the file when it cannot be decoded or converted.
    """
    try:
        if isinstance(source, Image.Image):
            rgb, _ = upright_rgb8(source)
        else:
            with Image.open(source) as image:
                image.load()
                rgb, _ = upright_rgb8(image)
    except (OSError, UnidentifiedImageError, ImageProblem) as exc:
        raise DataError(f"{source}: cannot decode image ({exc}); re-run the stage that wrote it (dvc repro).") from exc
    return resize_rgb(rgb, image_size)


def resize_rgb(rgb: Image.Image, image_size: tuple[int, int]) -> np.ndarray:
    """An upright 8-bit RGB image as (H, W, 3) uint8 at ``image_size`` = (W, H): :func:`prepare_image`'s last step.

    Resized with :data:`RESIZE_FILTER`, ignoring aspect ratio; not resampled when already that size.
    One decoded frame can so be prepared for several models (predict: the classifier and the gate).
    """
    width, height = image_size
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), _RESAMPLE)
    return np.asarray(rgb, dtype=np.uint8)


@contextmanager
def _strict_pillow() -> Iterator[list[warnings.WarningMessage]]:
    """Make Pillow fail on truncated files and oversized images; record other warnings.

    ``ImageFile.LOAD_TRUNCATED_IMAGES`` is a process-wide switch that any
    imported library may have turned on; it would silently grey-fill the
    missing part of a truncated file, so it is forced off while we decode.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield caught
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode_fully(path: Path, notes: list[str]) -> Image.Image:
    """Open ``path``, check its format, and decode every pixel (catching truncation)."""
    head = _read_head(path)
    with _strict_pillow() as caught:
        try:
            with Image.open(path) as image:
                _check_format(path, image, notes)
                _load_completely(path, image)
                frames = getattr(image, "n_frames", 1)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageProblem(
                "too_large",
                f"is too large to decode safely ({exc})",
                "downscale the photo before ingesting it (this size is also the signature of a decompression bomb)",
            ) from exc
        except UnidentifiedImageError as exc:
            raise ImageProblem(
                "not_an_image",
                f"is not an image file (it starts with {head!r})",
                "replace it with the real JPEG or PNG photo, or delete it",
            ) from exc
        except OSError as exc:
            raise ImageProblem(
                "unreadable",
                f"has a damaged header ({exc})",
                "copy the file again from its source or re-export it, or delete it",
            ) from exc
    # Pillow reports recoverable oddities (corrupt EXIF, extra bytes) as UserWarnings.
    notes.extend(f"Pillow warning: {w.message}" for w in caught if issubclass(w.category, UserWarning))
    if frames > 1:
        notes.append(f"holds {frames} frames; only the first is used")
    return image


def _read_head(path: Path, length: int = 12) -> bytes:
    """The first bytes of ``path``, for messages; raises for unreadable and empty files."""
    try:
        with path.open("rb") as handle:
            head = handle.read(length)
    except OSError as exc:
        raise ImageProblem(
            "unreadable",
            f"cannot be read ({exc.strerror or exc})",
            "check that the file exists and that its permissions allow reading",
        ) from exc
    if not head:
        raise ImageProblem(
            "empty_file",
            "is empty (0 bytes), probably an interrupted copy",
            "copy the file again from its source, or delete it",
        )
    return head


def _load_completely(path: Path, image: Image.Image) -> None:
    """Decode all pixels of ``image``; a damaged file raises :class:`ImageProblem`."""
    try:
        if image.format == "PNG":
            # verify() walks every chunk and its CRC, so it also catches a PNG
            # cut off after its last pixel row, which load() alone accepts.
            with Image.open(path) as probe:
                probe.verify()
        image.load()
    except Exception as exc:
        # Pillow reports damaged data with OSError, SyntaxError, EOFError,
        # ValueError, struct.error or zlib.error depending on the codec and
        # where the damage is; any of them means the file is unusable.
        raise ImageProblem(
            "truncated",
            f"is truncated or corrupt ({type(exc).__name__}: {exc})",
            "copy the file again from its source or re-export it, or delete it",
        ) from exc


def _check_format(path: Path, image: Image.Image, notes: list[str]) -> None:
    """Reject content that is not JPEG or PNG; note a supported file with the wrong suffix."""
    allowed = _SUFFIXES_BY_FORMAT.get(str(image.format))
    if allowed is None:
        raise ImageProblem(
            "unsupported_format",
            f"is a {image.format} file, not JPEG or PNG (whatever its name says)",
            f"convert it to PNG or JPEG; supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if path.suffix.lower() not in allowed:
        notes.append(f"is a {image.format} file named {path.suffix}; read as {image.format}")


def _apply_exif_orientation(image: Image.Image, notes: list[str]) -> tuple[Image.Image, int]:
    """Return the upright image and the EXIF orientation that was applied (1 = none)."""
    try:
        orientation = int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
        # Upright already: skip exif_transpose's full copy of the pixels (the tag goes with encode_png's metadata).
        upright = image if orientation == 1 else ImageOps.exif_transpose(image)
    except Exception as exc:
        # A damaged EXIF block must not cost us the photo: keep the pixels as
        # stored and say so, since the picture may then be sideways.
        notes.append(f"EXIF data unreadable ({exc}); orientation not applied, check the image is upright")
        return image, 1
    return upright, orientation if orientation in range(1, 9) else 1


def to_rgb8(image: Image.Image, notes: list[str] | None = None) -> Image.Image:
    """Convert any JPEG/PNG colour mode to 8-bit RGB of the same size.

    Alpha (an alpha channel or a transparent palette/key colour) is
    composited onto white. 16-bit grayscale values are scaled by 255/65535
    and rounded, so 65535 -> 255 and 32896 -> 128 (Pillow's own convert
    clips everything above 255 to white); 16-bit RGB(A) PNGs arrive here
    already reduced by Pillow to their high byte. Appends a note when
    transparency was flattened. Raises :class:`ImageProblem` for modes that cannot occur in
    JPEG/PNG (floating point, LAB).
    """
    notes = notes if notes is not None else []
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_l(image).convert("RGB")
    if "A" in mode or "a" in mode or "transparency" in image.info:
        return _composite_on_white(image.convert("RGBA"), notes)
    if mode in _DIRECT_TO_RGB_MODES:
        return image.convert("RGB")
    raise ImageProblem(
        "unsupported_mode",
        f"has colour mode {mode}, which cannot be converted to 8-bit RGB",
        "re-export it as an 8-bit RGB JPEG or PNG",
    )


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > _SIXTEEN_BIT_MAX):
        raise ImageProblem(
            "unsupported_mode",
            f"has {image.mode} values in [{values.min()}, {values.max()}], outside 16-bit range",
            "re-export it as an 8- or 16-bit grayscale or RGB PNG",
        )
    # Round half up without floating point: exact for every 16-bit value.
    scaled = (values * 255 + _SIXTEEN_BIT_MAX // 2) // _SIXTEEN_BIT_MAX
    return Image.fromarray(scaled.astype(np.uint8))


def _composite_on_white(rgba: Image.Image, notes: list[str]) -> Image.Image:
    min_alpha = rgba.getchannel("A").getextrema()[0]
    if min_alpha < 255:
        notes.append("has transparent pixels; composited onto white")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    background.alpha_composite(rgba)
    return background.convert("RGB")


def encode_png(rgb: Image.Image) -> bytes:
    """PNG bytes of ``rgb`` with no metadata: equal pixels give equal bytes."""
    clean = rgb.copy()
    # Pillow writes some of ``info`` (ICC profile, transparency) into the PNG.
    clean.info.clear()
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
