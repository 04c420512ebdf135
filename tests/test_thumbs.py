"""The terminal thumbnail renderer: known colours in, known cells and escape codes out."""

from __future__ import annotations

import re

import numpy as np
import pytest

from camwatch.thumbs import (
    MONO_RAMP,
    UPPER_HALF,
    Depth,
    detect_depth,
    downscale,
    fit_cells,
    palette_256,
    parse_depth,
    pixelate,
    quantize_16,
    quantize_256,
    render_ansi,
    render_cells,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def quadrants(h: int = 4, w: int = 4) -> np.ndarray:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = RED
    img[: h // 2, w // 2 :] = GREEN
    img[h // 2 :, : w // 2] = BLUE
    img[h // 2 :, w // 2 :] = WHITE
    return img


def two_rows(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    img = np.zeros((2, 1, 3), np.uint8)
    img[0, 0], img[1, 0] = top, bottom
    return img


# --- colour depth -------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "depth"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, Depth.TRUECOLOR),
        ({"COLORTERM": "24bit", "TERM": "xterm"}, Depth.TRUECOLOR),
        ({"TERM": "xterm-256color"}, Depth.C256),
        ({"TERM": "screen-256color"}, Depth.C256),
        ({"TERM": "xterm"}, Depth.C16),
        ({"TERM": "linux"}, Depth.C16),
        ({"TERM": "dumb"}, Depth.MONO),
        ({}, Depth.MONO),
        ({"NO_COLOR": "", "COLORTERM": "truecolor", "TERM": "xterm-256color"}, Depth.MONO),
    ],
)
def test_detect_depth_from_environment(env: dict[str, str], depth: Depth) -> None:
    assert detect_depth(env) is depth


def test_parse_depth_accepts_names_and_auto() -> None:
    assert parse_depth("256") is Depth.C256
    assert parse_depth(" TrueColor ") is Depth.TRUECOLOR
    assert parse_depth("auto", {"TERM": "xterm-256color"}) is Depth.C256


def test_parse_depth_rejects_unknown_with_the_valid_list() -> None:
    with pytest.raises(ValueError, match=r"'88'.*truecolor, 256, 16, mono"):
        parse_depth("88")


# --- geometry -----------------------------------------------------------------


def test_fit_cells_keeps_the_aspect_of_square_half_block_pixels() -> None:
    # 16:9 in a 40x20 box: 40 wide, 40/(16/9)/2 = 11.25 -> 11 rows
    assert fit_cells(160, 90, 40, 20) == (40, 11)
    # a tall image is limited by the height
    assert fit_cells(90, 160, 40, 10) == (11, 10)
    assert fit_cells(100, 100, 30, 30) == (30, 15)
    assert fit_cells(0, 10, 5, 5) == (0, 0)


def test_downscale_averages_areas() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    img[0, 0] = (200, 100, 40)  # one bright pixel in the top-left 2x2 block
    out = downscale(img, 2, 2)
    assert out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [50, 25, 10]
    assert out[1, 1].tolist() == [0, 0, 0]


def test_downscale_enlarges_by_repeating() -> None:
    out = downscale(quadrants(2, 2), 4, 4)
    assert out[0, 0].tolist() == list(RED)
    assert out[3, 3].tolist() == list(WHITE)


def test_pixelate_makes_uniform_blocks_of_the_same_size() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    mosaic = pixelate(img, blocks=8)
    assert mosaic.shape == img.shape
    # 8 blocks across 160 px: each 20x20 block is one colour
    block = mosaic[:20, :20].reshape(-1, 3)
    assert (block == block[0]).all()
    assert len(np.unique(mosaic.reshape(-1, 3), axis=0)) <= 8 * 5


# --- palettes -------------------------------------------------------------------


def test_quantize_256_hits_cube_corners_and_greys() -> None:
    px = np.array([[RED, GREEN, BLUE, WHITE, BLACK, (128, 128, 128), (95, 135, 175)]], np.uint8)
    assert quantize_256(px).tolist() == [[196, 46, 21, 231, 16, 244, 67]]
    assert palette_256(67) == (95, 135, 175)
    assert palette_256(244) == (128, 128, 128)


def test_quantize_16_picks_the_nearest_ansi_colour() -> None:
    px = np.array([[RED, (200, 0, 0), GREEN, BLUE, WHITE, BLACK, (128, 128, 128)]], np.uint8)
    assert quantize_16(px).tolist() == [[9, 1, 10, 4, 15, 0, 8]]


# --- cells per depth -------------------------------------------------------------------


def test_truecolor_cells_are_half_blocks_with_exact_colours() -> None:
    cells = render_cells(quadrants(), 2, 1, Depth.TRUECOLOR, fit=False)
    assert cells.rows == (((UPPER_HALF, RED, BLUE), (UPPER_HALF, GREEN, WHITE)),)


def test_256_cells_carry_palette_indexes() -> None:
    cells = render_cells(quadrants(), 2, 1, Depth.C256, fit=False)
    assert cells.rows == (((UPPER_HALF, 196, 21), (UPPER_HALF, 46, 231)),)


def test_16_cells_carry_ansi_indexes() -> None:
    cells = render_cells(quadrants(), 2, 1, Depth.C16, fit=False)
    assert cells.rows == (((UPPER_HALF, 9, 4), (UPPER_HALF, 10, 15)),)


def test_uniform_cells_become_spaces_with_a_background() -> None:
    cells = render_cells(two_rows(GREEN, GREEN), 1, 1, Depth.TRUECOLOR, fit=False)
    assert cells.rows == (((" ", None, GREEN),),)


def test_mono_uses_the_brightness_ramp() -> None:
    img = np.zeros((2, 3, 3), np.uint8)
    img[:, 1] = (128, 128, 128)
    img[:, 2] = WHITE
    cells = render_cells(img, 3, 1, Depth.MONO, fit=False)
    assert [ch for ch, _, _ in cells.rows[0]] == [MONO_RAMP[0], MONO_RAMP[5], MONO_RAMP[-1]]
    assert all(fg is None and bg is None for _, fg, bg in cells.rows[0])


def test_render_fits_the_box_by_default() -> None:
    img = np.zeros((90, 160, 3), np.uint8)
    cells = render_cells(img, 40, 20, Depth.C256)
    assert (cells.width, cells.height) == (40, 11)


def test_pixelated_render_has_fewer_colours_than_the_original() -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    plain = render_cells(img, 40, 20, Depth.TRUECOLOR)
    coarse = render_cells(img, 40, 20, Depth.TRUECOLOR, pixelate_blocks=6)

    def colours(cells: object) -> set:
        return {c for row in cells.rows for cell in row for c in cell[1:] if c is not None}

    assert len(colours(coarse)) <= 6 * 4
    assert len(colours(plain)) > 200


# --- ANSI text --------------------------------------------------------------------------


def test_truecolor_ansi_escape_codes() -> None:
    text = render_cells(quadrants(), 2, 1, Depth.TRUECOLOR, fit=False).to_ansi()
    assert text == ("\x1b[38;2;255;0;0;48;2;0;0;255m▀\x1b[38;2;0;255;0;48;2;255;255;255m▀\x1b[0m\n")


def test_256_ansi_escape_codes() -> None:
    text = render_cells(quadrants(), 2, 1, Depth.C256, fit=False).to_ansi()
    assert text == "\x1b[38;5;196;48;5;21m▀\x1b[38;5;46;48;5;231m▀\x1b[0m\n"


def test_16_ansi_escape_codes_use_bright_ranges() -> None:
    text = render_cells(quadrants(), 2, 1, Depth.C16, fit=False).to_ansi()
    assert text == "\x1b[91;44m▀\x1b[92;107m▀\x1b[0m\n"


def test_ansi_repeats_no_codes_for_a_run_of_one_colour() -> None:
    img = np.zeros((2, 5, 3), np.uint8)
    img[:] = BLUE
    text = render_cells(img, 5, 1, Depth.C256, fit=False).to_ansi()
    assert text == "\x1b[48;5;21m     \x1b[0m\n"


def test_mono_ansi_has_no_escape_codes() -> None:
    text = render_ansi(quadrants(8, 16), 16, 4, "mono")
    assert "\x1b" not in text
    assert set(text) <= set(MONO_RAMP) | {"\n"}
    assert len(text.splitlines()) == 4


def test_render_ansi_line_count_and_reset_per_line() -> None:
    img = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    text = render_ansi(img, 40, 20, Depth.C256)
    lines = text.splitlines()
    assert len(lines) == 11
    assert all(line.endswith("\x1b[0m") for line in lines)
    visible = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    assert all(len(v) == 40 for v in visible)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("not an array", "numpy array"),
        (np.zeros((4, 4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
    ],
)
def test_bad_images_raise_a_clear_value_error(image: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_cells(image, 10, 5, Depth.C256)


def test_grey_images_are_accepted() -> None:
    grey = np.full((4, 4), 255, np.uint8)
    cells = render_cells(grey, 2, 1, Depth.TRUECOLOR, fit=False)
    assert cells.rows[0][0] == (" ", None, WHITE)
