"""Themes: the three built in, user theme files, errors; and the app-wide keys (help, palette)."""

from __future__ import annotations

from pathlib import Path

import pytest
from camwatch.themes import (
    BUILTIN_THEMES,
    ThemeError,
    UnknownThemeError,
    camwatch_themes,
    load_theme_file,
    resolve_theme,
    user_theme_dir,
)
from camwatch.tui import sample
from camwatch.tui.app import CamwatchApp, run_tui
from camwatch.tui.screens.camera import CameraScreen
from camwatch.tui.screens.fleet import FleetScreen
from camwatch.tui.screens.help import HelpScreen
from textual.color import Color

from camwatch.bus import LocalBus
from camwatch.control import MemoryControl

NIGHT = """
name = "night-shift"
dark = true
primary = "#4AA3FF"
success = "#00FF00"
error = "#FF0000"
background = "#000000"
[variables]
"footer-key-foreground" = "#FFB000"
"""


def test_builtin_themes_exist() -> None:
    assert set(BUILTIN_THEMES) == {"camwatch-dark", "camwatch-light", "camwatch-mono"}
    assert BUILTIN_THEMES["camwatch-dark"].dark and not BUILTIN_THEMES["camwatch-light"].dark


def test_mono_theme_has_no_hue() -> None:
    mono = BUILTIN_THEMES["camwatch-mono"]
    for value in (mono.primary, mono.success, mono.warning, mono.error, mono.background):
        r, g, b = Color.parse(value).rgb
        assert r == g == b


def test_user_theme_file_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "night.toml").write_text(NIGHT)
    themes, errors = camwatch_themes(tmp_path)
    assert errors == []
    theme = themes["night-shift"]
    assert theme.success == "#00FF00" and theme.variables["footer-key-foreground"] == "#FFB000"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("primary = ", "not valid TOML"),
        ('dark = true\nsuccess = "#00FF00"', "'primary' colour is required"),
        ('primary = "bluish"', "primary = 'bluish' is not a colour"),
        ('primary = "#000000"\nsparkle = 1', "unknown key"),
        ('primary = "#000000"\ndark = "yes"', "'dark' must be true or false"),
        ('name = "a b"\nprimary = "#000000"', "name 'a b'"),
    ],
)
def test_bad_theme_files_name_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ThemeError, match=message) as info:
        load_theme_file(path)
    assert str(path) in str(info.value)


def test_a_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-bad.toml").write_text("primary = ")
    (tmp_path / "night.toml").write_text(NIGHT)
    themes, errors = camwatch_themes(tmp_path)
    assert "night-shift" in themes
    assert len(errors) == 1 and "a-bad.toml" in errors[0]


def test_unknown_theme_lists_the_valid_ones(tmp_path: Path) -> None:
    (tmp_path / "night.toml").write_text(NIGHT)
    themes, _ = camwatch_themes(tmp_path)
    with pytest.raises(UnknownThemeError) as info:
        resolve_theme("camwatch-pink", themes)
    message = str(info.value)
    assert "camwatch-pink" in message
    for name in ("camwatch-dark", "camwatch-light", "camwatch-mono", "night-shift", "nord"):
        assert name in message
    with pytest.raises(UnknownThemeError):
        CamwatchApp(LocalBus(), MemoryControl(LocalBus()), theme="nope", theme_dir=tmp_path)


def test_run_tui_reports_bad_options_with_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    bus = LocalBus()
    assert run_tui(bus, MemoryControl(bus), theme="nope", theme_dir=Path("/nonexistent")) == 3
    assert "unknown theme 'nope'" in capsys.readouterr().err
    assert run_tui(bus, MemoryControl(bus), colors="88") == 3
    assert "unknown colour depth '88'" in capsys.readouterr().err
    assert run_tui(bus, MemoryControl(bus), thumbnails="blur") == 3
    assert "unknown thumbnails setting 'blur'" in capsys.readouterr().err


def test_user_theme_dir_follows_xdg() -> None:
    assert user_theme_dir({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/camwatch/themes")


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
async def test_state_colours_come_from_the_theme(name: str) -> None:
    app, *_ = sample.make_app(10, theme=name)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == name
        table = app.screen.table
        expected = Color.parse(app.theme_variables["text-error"])
        style = table.style("bad")
        assert style.bold
        assert style.color is not None and style.color.triplet is not None
        assert tuple(style.color.triplet) == expected.rgb


async def test_switching_theme_restyles_the_table(tmp_path: Path) -> None:
    (tmp_path / "night.toml").write_text(NIGHT)
    app, *_ = sample.make_app(40, theme_dir=tmp_path)
    async with app.run_test() as pilot:
        await pilot.pause()
        table = app.screen.table
        before = table.style("bad")
        app.theme = "night-shift"
        await pilot.pause()
        await pilot.pause()
        offline = next(k for k in table.order if "✖" in str(table.get_cell(k, "state")))
        style = table.cell_style(offline, "state")
        assert tuple(style.color.triplet) == Color.parse(app.theme_variables["text-error"]).rgb
        assert style != before


async def test_broken_user_theme_is_reported_in_the_app(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("primary = ")
    app, *_ = sample.make_app(10, theme_dir=tmp_path)
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause()
        assert any("broken.toml" in n.message for n in app._notifications)


async def test_help_lists_the_keys_of_the_screen_underneath() -> None:
    app, *_ = sample.make_app(10)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        lines = text.splitlines()
        for key, what in (("/", "Filter"), ("z", "Group by site"), ("t", "Tiles"), ("j", "Down")):
            assert any(key in ln.split()[:3] and what in ln for ln in lines), key
        assert "✖ offline" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


async def test_colon_opens_the_palette_and_a_camera_by_name() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("colon")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        await pilot.press(*"open camera cam-027")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen) and app.screen.camera == "cam-027"


async def test_palette_sorts_the_fleet() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"fleet: sort by loss")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen) and app.screen.sort_column == "loss"
