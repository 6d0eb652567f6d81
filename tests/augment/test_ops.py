"""Augmentation operations: geometry, colour, filters, noise, and applying recorded lists."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from textile_defects.augment.geometry import geometry_matrix, warp_image, warp_mask
from textile_defects.augment.ops import apply_operations
from textile_defects.augment.photometric import (
    MAX_KERNEL_BLUR_SIGMA_PX,
    add_noise,
    apply_color,
    color_matrix,
    gaussian_blur,
    sharpen,
)

WIDTH, HEIGHT = 128, 72


def texture(seed: int = 0, low: int = 40, high: int = 220) -> Image.Image:
    """A smooth random RGB texture with values in [low, high] (no pure black anywhere)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(low, high, size=(HEIGHT // 8, WIDTH // 8, 3)).astype(np.uint8)
    image = Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
    fine = rng.integers(-10, 11, size=(HEIGHT, WIDTH, 3))
    return Image.fromarray(np.clip(np.asarray(image).astype(int) + fine, low, high).astype(np.uint8))


def op(name: str, **params: float) -> dict:
    return {"op": name, "params": params}


def pixels(image: Image.Image | np.ndarray) -> np.ndarray:
    """Signed pixel values, for differences."""
    return np.asarray(image).astype(np.int16)


def rgb(image: Image.Image) -> np.ndarray:
    """The array the operations take."""
    return np.asarray(image)


# ---- geometry ----


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([op("hflip")], lambda a: a[:, ::-1]),
        ([op("vflip")], lambda a: a[::-1, :]),
        ([op("rotate180")], lambda a: a[::-1, ::-1]),
        ([op("hflip"), op("vflip")], lambda a: a[::-1, ::-1]),
        ([op("hflip"), op("hflip")], lambda a: a),
    ],
)
def test_flips_are_exact_pixel_moves(operations, expected) -> None:
    image = texture()
    out = warp_image(rgb(image), geometry_matrix(operations, WIDTH, HEIGHT))
    np.testing.assert_array_equal(out, expected(rgb(image)))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_one_pixel_shift_moves_content_and_reflects_the_border(interpolation: str) -> None:
    image = texture()
    b = apply_operations(rgb(image), [op("translate", dx=1 / WIDTH, dy=0.0)], interpolation)
    a = rgb(image)
    np.testing.assert_array_equal(b[:, 1:], a[:, :-1])
    # The exposed column mirrors the edge (no black bar).
    np.testing.assert_array_equal(b[:, 0], a[:, 0])


def test_positive_angle_turns_counter_clockwise_like_pillow() -> None:
    square = texture().crop((0, 0, HEIGHT, HEIGHT))
    out = apply_operations(rgb(square), [op("rotate", angle_deg=90.0)], "nearest")
    np.testing.assert_array_equal(out, rgb(square.transpose(Image.Transpose.ROTATE_90)))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_zoom_out_and_shift_leave_no_black_borders(interpolation: str) -> None:
    image = texture(low=40)
    operations = [op("rotate", angle_deg=-5.0), op("zoom", factor=0.8), op("translate", dx=0.1, dy=-0.1)]
    out = pixels(apply_operations(rgb(image), operations, interpolation))
    assert out.shape == (HEIGHT, WIDTH, 3)
    assert out.min() >= 40, "border pixels must come from the picture (reflection), not a fill colour"


def test_zoom_keeps_the_aspect_ratio() -> None:
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(255, (54, 26, 74, 46))  # a 20x20 square at the centre of a 16:9 frame
    zoomed = np.asarray(warp_mask(mask, [op("zoom", factor=1.5)]))
    rows, cols = np.nonzero(zoomed)
    assert rows.max() - rows.min() + 1 == 30
    assert cols.max() - cols.min() + 1 == 30


def test_mask_follows_the_image_geometry() -> None:
    image = texture()
    operations = [op("hflip"), op("rotate", angle_deg=3.0), op("zoom", factor=1.1), op("translate", dx=0.05, dy=0.02)]
    # An "L" copy of the image warped as a mask equals the image warped with nearest sampling, where in frame.
    grey = image.convert("L")
    as_mask = np.asarray(warp_mask(grey, operations))
    as_image = apply_operations(rgb(grey.convert("RGB")), operations, "nearest")[..., 0]
    # Images sample at double-precision positions; Pillow steps masks through
    # each row in 16.16 fixed point, so a sample within about 1/1000 px of a
    # pixel edge may pick the neighbour there (measured: 5 of 9170 here).
    in_frame = as_mask > 0
    assert np.mean(as_mask[in_frame] != as_image[in_frame]) < 0.002


def test_mask_outside_the_frame_is_zero_not_reflected() -> None:
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(255, (0, 0, 10, HEIGHT))  # a band along the left edge
    shifted = np.asarray(warp_mask(mask, [op("translate", dx=-0.5, dy=0.0)]))
    assert shifted.sum() == 0


# ---- colour ----


@pytest.mark.parametrize(
    ("name", "enhancer"),
    [("brightness", ImageEnhance.Brightness), ("contrast", ImageEnhance.Contrast), ("saturation", ImageEnhance.Color)],
)
@pytest.mark.parametrize("factor", [0.7, 1.3])
def test_colour_ops_match_pillow_enhance(name: str, enhancer, factor: float) -> None:
    image = texture()
    ours = pixels(apply_color(rgb(image), [op(name, factor=factor)]))
    pillow = pixels(enhancer(image).enhance(factor))
    assert np.abs(ours - pillow).max() <= 1


def test_composed_colour_matrix_equals_applying_one_by_one() -> None:
    image = texture(low=80, high=170)  # nothing clips between steps
    operations = [op("brightness", factor=1.1), op("contrast", factor=0.9), op("saturation", factor=1.2)]
    fused = pixels(apply_color(rgb(image), operations))
    stepwise = rgb(image)
    for one in operations:
        stepwise = apply_color(stepwise, [one])
    # Each stepwise pass rounds to 8 bits; the fused pass rounds once.
    assert np.abs(fused - pixels(stepwise)).max() <= 2


def test_hue_rotation_keeps_greys_and_a_full_turn_is_identity() -> None:
    grey = np.full(3, 117.0)
    matrix = color_matrix([op("hue", shift_deg=40.0)], grey)
    np.testing.assert_allclose(matrix[:, :3] @ grey + matrix[:, 3], grey, atol=1e-6)
    full_turn = color_matrix([op("hue", shift_deg=360.0)], grey)
    np.testing.assert_allclose(full_turn, np.column_stack([np.eye(3), np.zeros(3)]), atol=1e-9)


def test_hue_rotation_changes_colours() -> None:
    image = texture()
    shifted = pixels(apply_color(rgb(image), [op("hue", shift_deg=30.0)]))
    assert np.abs(shifted - pixels(image)).mean() > 2


def test_no_colour_operation_returns_the_image_itself() -> None:
    image = rgb(texture())
    assert apply_color(image, [op("hflip")]) is image


# ---- filters and noise ----


@pytest.mark.parametrize("factor", [0.5, 1.8])
def test_sharpen_matches_pillow_sharpness_inside_the_frame(factor: float) -> None:
    image = texture()
    ours = pixels(sharpen(rgb(image), factor))[1:-1, 1:-1]
    pillow = pixels(ImageEnhance.Sharpness(image).enhance(factor))[1:-1, 1:-1]
    assert np.abs(ours - pillow).max() <= 1


@pytest.mark.parametrize("sigma", [0.4, MAX_KERNEL_BLUR_SIGMA_PX, 1.5])
def test_blur_smooths_and_keeps_the_mean(sigma: float) -> None:
    image = np.random.default_rng(3).integers(60, 200, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    blurred = pixels(gaussian_blur(image, sigma))
    original = pixels(image)
    assert blurred.std() < 0.9 * original.std()
    assert abs(blurred.mean() - original.mean()) < 1.0


def test_wider_blur_smooths_more() -> None:
    image = np.random.default_rng(4).integers(60, 200, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    assert pixels(gaussian_blur(image, 0.4)).std() > pixels(gaussian_blur(image, 0.8)).std()


def test_noise_has_the_asked_sigma_and_is_a_function_of_its_seed() -> None:
    flat = np.full((HEIGHT * 2, WIDTH * 2, 3), 128, dtype=np.uint8)
    noisy = pixels(add_noise(flat, 4.0, seed=11)) - 128
    assert abs(noisy.mean()) < 0.1
    assert noisy.std() == pytest.approx(4.0, rel=0.05)
    np.testing.assert_array_equal(pixels(add_noise(flat, 4.0, seed=11)), pixels(add_noise(flat, 4.0, seed=11)))
    assert not np.array_equal(pixels(add_noise(flat, 4.0, seed=11)), pixels(add_noise(flat, 4.0, seed=12)))
    # Channels get independent noise.
    assert abs(np.corrcoef(noisy[..., 0].ravel(), noisy[..., 1].ravel())[0, 1]) < 0.05


# ---- applying recorded lists ----


def test_no_operations_leave_the_pixels_unchanged() -> None:
    image = rgb(texture())
    np.testing.assert_array_equal(apply_operations(image, []), image)


def test_recorded_order_does_not_matter() -> None:
    image = rgb(texture())
    operations = [op("noise", sigma=2.0, seed=5), op("rotate", angle_deg=2.0), op("brightness", factor=1.1)]
    np.testing.assert_array_equal(apply_operations(image, operations), apply_operations(image, operations[::-1]))


@pytest.mark.parametrize(
    "operations", [[op("perspective")], [op("hflip"), op("hflip")]], ids=["unknown", "repeated"]
)
def test_bad_operation_lists_are_refused(operations) -> None:
    with pytest.raises(ValueError):
        apply_operations(rgb(texture()), operations)


def test_mask_margin_keeps_what_leaves_the_frame() -> None:
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(255, (0, 30, 20, 40))  # a 20x10 bar at the left edge
    operations = [op("translate", dx=-10 / WIDTH, dy=0.0)]
    framed = np.asarray(warp_mask(mask, operations))
    canvas = np.asarray(warp_mask(mask, operations, margin_px=16))
    assert canvas.shape == (HEIGHT + 32, WIDTH + 32)
    np.testing.assert_array_equal(canvas[16:-16, 16:-16], framed)
    assert np.count_nonzero(canvas) == 200 and np.count_nonzero(framed) == 100


@pytest.mark.parametrize("shift_px", [7, -7])
def test_exposed_border_is_the_mirror_of_the_edge(shift_px: int) -> None:
    image = rgb(texture())
    out = apply_operations(image, [op("translate", dx=shift_px / WIDTH, dy=0.0)], "nearest")
    if shift_px > 0:
        np.testing.assert_array_equal(out[:, shift_px:], image[:, :-shift_px])
        np.testing.assert_array_equal(out[:, :shift_px], image[:, shift_px - 1 :: -1])
    else:
        np.testing.assert_array_equal(out[:, :shift_px], image[:, -shift_px:])
        np.testing.assert_array_equal(out[:, shift_px:], image[:, : shift_px - 1 : -1])


def symmetric_index(index: np.ndarray, size: int) -> np.ndarray:
    """Where NumPy's "symmetric" padding reads pixel ``index`` from (mirror about the edges, edge repeated)."""
    folded = np.mod(index, 2 * size)
    return np.where(folded < size, folded, 2 * size - 1 - folded)


@pytest.mark.parametrize("zoom", [0.937, 0.43])
def test_zoom_out_mirrors_as_often_as_needed(zoom: float) -> None:
    """A zoom out (by 0.43: more than one mirror wide) shows the picture reflected about its edges."""
    image = rgb(texture())
    out = apply_operations(image, [op("zoom", factor=zoom)], "nearest")
    # Nearest sampling computed here in double precision, mirrored by hand.
    inverse = np.linalg.inv(geometry_matrix([op("zoom", factor=zoom)], WIDTH, HEIGHT))
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    source_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
    source_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
    expected = image[
        symmetric_index(np.floor(source_y).astype(int), HEIGHT), symmetric_index(np.floor(source_x).astype(int), WIDTH)
    ]
    # OpenCV rounds coordinates at 1/1024 px: a sample on a pixel edge (the
    # centre row and column here) may pick the other side.
    assert np.mean((out != expected).any(axis=-1)) < 0.02


def test_bilinear_zoom_out_mirrors_like_a_padded_copy() -> None:
    image = rgb(texture())
    out = pixels(apply_operations(image, [op("zoom", factor=0.43)], "bilinear"))
    pad_y, pad_x = HEIGHT * 2, WIDTH * 2
    padded = np.pad(image, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="symmetric")
    shift = np.array([[1.0, 0.0, pad_x], [0.0, 1.0, pad_y], [0.0, 0.0, 1.0]])
    matrix = shift @ geometry_matrix([op("zoom", factor=0.43)], WIDTH, HEIGHT) @ np.linalg.inv(shift)
    reference = pixels(warp_image(padded, matrix, "bilinear")[pad_y : pad_y + HEIGHT, pad_x : pad_x + WIDTH])
    # Bilinear weights are quantised to 1/32 px: shifted coordinates may round one level apart.
    assert np.abs(out - reference).max() <= 1


def test_operations_never_modify_their_input() -> None:
    image = rgb(texture()).copy()
    before = image.copy()
    everything = [
        op("hflip"), op("rotate", angle_deg=2.0), op("brightness", factor=1.2), op("sharpness", factor=1.5),
        op("blur", sigma_px=0.5), op("noise", sigma=3.0, seed=1),
    ]
    apply_operations(image, everything)
    np.testing.assert_array_equal(image, before)
