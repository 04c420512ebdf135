"""Pixel zoom: kitty (PNG in base64 chunks) and sixel encoders, detection, the zoom screen."""

from __future__ import annotations

import base64
import io
import re

import av
import numpy as np
import pytest
from camwatch.tui import sample
from camwatch.tui.screens.camera import CameraScreen
from camwatch.tui.screens.zoom import ZoomScreen, fit_cells

from camwatch.pixels import (
    KITTY_CHUNK,
    Pixels,
    enlarge,
    kitty,
    kitty_delete,
    parse_pixels,
    pixel_protocol,
    png,
    quantize,
    sixel,
)

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def two_tone() -> np.ndarray:
    """4x4: the top two rows red, the bottom two blue."""
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2], img[2:] = RED, BLUE
    return img


def decode_png(data: bytes) -> np.ndarray:
    """Decode with FFmpeg's PNG decoder (through PyAV): an independent reader."""
    with av.open(io.BytesIO(data), format="png_pipe") as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


# --- sixel --------------------------------------------------------------------------


def test_sixel_of_a_known_4x4_image() -> None:
    # Registers sorted by colour value: 0 blue, 1 red (RGB in percent). One band of 6
    # rows: red sets rows 0-1 (bits 0b000011 -> '?'+3 = 'B'), blue rows 2-3 (0b001100
    # -> 'K'); four equal columns are written as a run !4.
    assert sixel(two_tone()) == ('\x1bPq"1;1;4;4#0;2;0;0;100#1;2;100;0;0#0!4K$#1!4B\x1b\\')


def test_sixel_bands_runs_and_trailing_blanks() -> None:
    img = np.zeros((8, 5, 3), np.uint8)  # black, one white pixel at (row 7, col 1)
    img[7, 1] = WHITE
    text = sixel(img)
    body = text[text.index("#1;2;100;100;100") + len("#1;2;100;100;100") :]
    # band 1 (rows 0-5) is all black; band 2 has rows 6-7: black except (7,1).
    assert body == "#0!5~-#0B@BBB$#1?A\x1b\\"


def test_sixel_quantizes_photographs_to_a_colour_cube() -> None:
    noise = np.random.default_rng(3).integers(0, 256, (12, 30, 3), dtype=np.uint8)
    palette, index = quantize(noise)
    assert palette.shape == (252, 3) and index.max() < 252
    error = np.abs(palette[index].astype(int) - noise.astype(int))
    assert error.max() <= 26  # half a step of the 6-level axes
    text = sixel(noise)
    assert text.startswith('\x1bPq"1;1;30;12') and text.count("-") == 1  # two bands
    assert set(re.findall(r"#(\d+);2;", text)) == {str(i) for i in range(252)}


# --- kitty --------------------------------------------------------------------------


def test_png_decodes_to_the_same_pixels() -> None:
    for img in (two_tone(), np.random.default_rng(5).integers(0, 256, (23, 37, 3), np.uint8)):
        assert (decode_png(png(img)) == img).all()


def test_kitty_sends_a_small_png_in_one_chunk() -> None:
    text = kitty(two_tone(), cols=8, rows=2)
    match = re.fullmatch(r"\x1b_G([^;]*);([A-Za-z0-9+/=]*)\x1b\\", text)
    assert match is not None
    assert match.group(1) == "a=T,f=100,t=d,q=2,i=1,c=8,r=2,C=1,m=0"
    assert (decode_png(base64.b64decode(match.group(2))) == two_tone()).all()


def test_kitty_splits_big_images_into_4096_byte_chunks() -> None:
    img = np.random.default_rng(9).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", kitty(img, 40, 15, image_id=7))
    assert len(chunks) >= 3
    heads = [h for h, _ in chunks]
    assert heads[0].startswith("a=T,f=100") and "i=7" in heads[0] and heads[0].endswith("m=1")
    assert heads[1:-1] == ["m=1"] * (len(chunks) - 2) and heads[-1] == "m=0"
    assert all(len(data) == KITTY_CHUNK for _, data in chunks[:-1])
    assert 0 < len(chunks[-1][1]) <= KITTY_CHUNK
    data = base64.b64decode("".join(d for _, d in chunks))
    assert data == png(img) and (decode_png(data) == img).all()
    assert kitty_delete(7) == "\x1b_Ga=d,d=I,i=7,q=2\x1b\\"


def test_encoders_refuse_what_is_not_an_rgb_image() -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        sixel(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="non-empty"):
        png(np.zeros((0, 4, 3), np.uint8))


def test_enlarge_keeps_square_pixels() -> None:
    big = enlarge(two_tone(), 3)
    assert big.shape == (12, 12, 3) and (big[5, 11] == RED).all() and (big[6, 0] == BLUE).all()


# --- which protocol -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "env", "expected"),
    [
        ("auto", {"TERM": "xterm-kitty"}, Pixels.KITTY),
        ("auto", {"TERM": "xterm-256color", "KITTY_WINDOW_ID": "3"}, Pixels.KITTY),
        ("auto", {"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-0/default,1,0"}, None),
        ("auto", {"TERM": "xterm-256color"}, None),  # sixel is never guessed
        ("sixel", {"TERM": "screen"}, Pixels.SIXEL),
        ("kitty", {}, Pixels.KITTY),
        ("off", {"TERM": "xterm-kitty"}, None),
    ],
)
def test_protocol_choice(setting: str, env: dict[str, str], expected: Pixels | None) -> None:
    assert pixel_protocol(parse_pixels(setting), env) is expected


def test_unknown_pixels_setting_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, kitty, sixel, off"):
        parse_pixels("iterm")


def test_fit_keeps_the_aspect_in_cells() -> None:
    assert fit_cells(160, 90, 80, 20) == (71, 20)
    assert fit_cells(160, 90, 40, 30) == (40, 11)
    assert fit_cells(160, 90, 0, 10) == (0, 0)


# --- the zoom screen ------------------------------------------------------------------


async def open_camera(app, pilot, name: str) -> CameraScreen:  # type: ignore[no-untyped-def]
    await app.alerts_loaded.wait()
    await pilot.pause()
    app.open_camera(name)
    await pilot.pause()
    assert isinstance(app.screen, CameraScreen)
    return app.screen


async def test_zoom_draws_the_frame_with_kitty_and_audits_it() -> None:
    app, _bus, ctl, _states = sample.make_app(10, pixels="kitty")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_camera(app, pilot, "cam-004")
        views = len(ctl.views())
        await pilot.press("z")
        await pilot.pause()
        zoom = app.screen
        assert isinstance(zoom, ZoomScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert zoom.written.startswith("\x1b7\x1b[2;")  # under the caption line
        assert "\x1b_Ga=T,f=100,t=d,q=2,i=1" in zoom.written and zoom.written.endswith("\x1b8")
        payload = "".join(re.findall(r"\x1b_G[^;]*;([^\x1b]*)\x1b\\", zoom.written))
        frame = ctl.thumbnail("cam-004")
        assert (decode_png(base64.b64decode(payload)) == frame.rgb).all()
        assert len(ctl.views()) == views + 1
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen)


async def test_zoom_with_sixel_shows_only_the_privacy_mosaic() -> None:
    app, *_ = sample.make_app(10, pixels="sixel", thumbnails="pixelate", pixel_blocks=4)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_camera(app, pilot, "cam-004")
        await pilot.press("z")
        await pilot.pause()
        zoom = app.screen
        assert isinstance(zoom, ZoomScreen)
        assert len(np.unique(zoom.image.reshape(-1, 3), axis=0)) <= 4 * 2  # 4x2 blocks
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "\x1bPq" in zoom.written and zoom.written.endswith("\x1b\\\x1b8")


async def test_zoom_without_a_pixel_terminal_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("KITTY_WINDOW_ID", raising=False)
    app, *_ = sample.make_app(10)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_camera(app, pilot, "cam-004")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is screen
        messages = [n.message for n in app._notifications]
        assert any("pixel zoom needs a kitty or sixel terminal" in m for m in messages)


async def test_zoom_respects_thumbnails_off() -> None:
    app, _bus, ctl, _states = sample.make_app(10, pixels="kitty", thumbnails="off")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_camera(app, pilot, "cam-004")
        await pilot.press("z")
        await pilot.pause()
        assert app.screen is screen
        assert any("privacy" in n.message for n in app._notifications)
    assert ctl.thumbnail_calls == 0
