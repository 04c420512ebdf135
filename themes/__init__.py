"""Textual themes for camwatch: three built in, more from the user's config dir."""

from __future__ import annotations

from pathlib import Path

from textual.theme import BUILTIN_THEMES as TEXTUAL_THEMES
from textual.theme import Theme

from .builtin import BUILTIN_THEMES, DEFAULT_THEME
from .loader import ThemeError, load_theme_file, load_user_themes, user_theme_dir

__all__ = [
    "BUILTIN_THEMES",
    "DEFAULT_THEME",
    "ThemeError",
    "UnknownThemeError",
    "camwatch_themes",
    "load_theme_file",
    "load_user_themes",
    "resolve_theme",
    "user_theme_dir",
]


class UnknownThemeError(ValueError):
    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown theme {name!r}; valid themes: {', '.join(valid)}")


def camwatch_themes(theme_dir: Path | None = None) -> tuple[dict[str, Theme], list[str]]:
    """Built-in plus user themes (a user file may override a built-in by name),
    and the errors of user files that could not be loaded."""
    user, errors = load_user_themes(theme_dir)
    return {**BUILTIN_THEMES, **user}, errors


def resolve_theme(name: str, themes: dict[str, Theme]) -> Theme:
    """The theme called name among ours or Textual's; UnknownThemeError lists the valid ones."""
    if name in themes:
        return themes[name]
    if name in TEXTUAL_THEMES:
        return TEXTUAL_THEMES[name]
    raise UnknownThemeError(name, [*themes, *(n for n in TEXTUAL_THEMES if n not in themes)])
