"""User theme files: ~/.config/camwatch/themes/*.toml, one Textual theme per file.

    name = "night-shift"          # optional, defaults to the file name
    dark = true
    primary = "#4AA3FF"           # required
    success = "#3DDC84"           # optional: secondary accent warning error
    background = "#000000"        #   success foreground background surface
    [variables]                   #   panel boost; luminosity_spread text_alpha
    "footer-key-foreground" = "#FFB000"

A broken file is reported with its path and the offending key; it never stops
the other themes from loading.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

MAX_THEME_FILE = 64 * 1024
_COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_NUMBER_KEYS = ("luminosity_spread", "text_alpha")
_ALLOWED = frozenset({"name", "dark", "variables", *_COLOUR_KEYS, *_NUMBER_KEYS})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ThemeError(ValueError):
    """A theme file that cannot be used, with the reason."""


def user_theme_dir(env: dict[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/camwatch/themes, or ~/.config/camwatch/themes."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "camwatch" / "themes"


def load_theme_file(path: Path) -> Theme:
    """Parse one TOML theme file. Raises ThemeError naming the file and the problem."""
    try:
        if path.stat().st_size > MAX_THEME_FILE:
            raise ThemeError(f"{path}: larger than {MAX_THEME_FILE} bytes")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: not valid TOML: {exc}") from None
    return theme_from_mapping(data, default_name=path.stem, origin=str(path))


def theme_from_mapping(data: dict, *, default_name: str, origin: str) -> Theme:
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED))
        raise ThemeError(f"{origin}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ThemeError(f"{origin}: name {name!r} must be letters, digits, '-', '_' or '.'")
    if "primary" not in data:
        raise ThemeError(f"{origin}: 'primary' colour is required")
    colours = {key: _colour(data[key], key, origin) for key in _COLOUR_KEYS if key in data}
    numbers = {key: _number(data[key], key, origin) for key in _NUMBER_KEYS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{origin}: 'dark' must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeError(f"{origin}: [variables] must map names to strings")
    return Theme(name=name, dark=dark, variables=dict(variables), **colours, **numbers)


def load_user_themes(directory: Path | None = None) -> tuple[dict[str, Theme], list[str]]:
    """Every *.toml theme in directory (sorted by file name) and one error line per bad file."""
    directory = user_theme_dir() if directory is None else directory
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    try:
        paths = sorted(directory.glob("*.toml"))
    except OSError as exc:
        return {}, [f"{directory}: cannot list themes: {exc}"]
    for path in paths:
        try:
            theme = load_theme_file(path)
        except ThemeError as exc:
            errors.append(str(exc))
            continue
        themes[theme.name] = theme
    return themes, errors


def _colour(value: object, key: str, origin: str) -> str:
    if not isinstance(value, str):
        raise ThemeError(f'{origin}: {key} must be a colour string like "#4AA3FF"')
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{origin}: {key} = {value!r} is not a colour") from None
    return value


def _number(value: object, key: str, origin: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ThemeError(f"{origin}: {key} must be a number between 0 and 1")
    return float(value)
