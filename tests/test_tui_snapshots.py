"""SVG snapshots (pytest-textual-snapshot) of each screen at 80x24 and 160x48, every theme.

Data and clock are fixed (camwatch.tui.sample), so a difference is a change in
how the TUI looks. Update with `pytest tests/test_tui_snapshots.py --snapshot-update`
after checking the new images; Textual is pinned exactly because snapshots
shift between its releases.
"""

from __future__ import annotations

import pytest
from camwatch.themes import BUILTIN_THEMES
from camwatch.tui import sample

SIZES = [(80, 24), (160, 48)]
THEMES = sorted(BUILTIN_THEMES)


async def loaded(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.alerts_loaded.wait()
    await pilot.pause()


def opening(camera: str):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        pilot.app.open_camera(camera)
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
def test_fleet(snap_compare, theme: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60, theme=theme)
    assert snap_compare(app, terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
def test_camera(snap_compare, theme: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60, theme=theme)
    assert snap_compare(app, terminal_size=size, run_before=opening("cam-003"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_alerts(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60)
    assert snap_compare(app, terminal_size=size, press=["2"], run_before=loaded)


def test_fleet_grouped_by_site(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60)
    assert snap_compare(app, terminal_size=(160, 48), press=["z"], run_before=loaded)


def test_tiles(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60)
    assert snap_compare(app, terminal_size=(160, 48), press=["t", "_"], run_before=loaded)


def test_tiles_without_images(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60, thumbnails="off")
    assert snap_compare(app, terminal_size=(80, 24), press=["t", "_"], run_before=loaded)


def test_help(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app, *_ = sample.make_app(60)
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"], run_before=loaded)
