"""camwatch's own themes.

Status colours are chosen for their job: in camwatch-dark, saturated on a
near-black background for a dim control room; in camwatch-light, dark enough
to keep 4.5:1 contrast on white in sunlight (pure yellow on white is
unreadable, so "warning" is a deep amber). camwatch-mono uses greys only:
there, the state words and symbols carry all the meaning.
"""

from __future__ import annotations

from textual.theme import Theme

DEFAULT_THEME = "camwatch-dark"

CAMWATCH_DARK = Theme(
    name="camwatch-dark",
    primary="#4AA3FF",
    secondary="#2D6CDF",
    accent="#FFB000",
    success="#3DDC84",
    warning="#FFB020",
    error="#FF5252",
    foreground="#D8DEE9",
    background="#0B0F14",
    surface="#121821",
    panel="#1B2430",
    dark=True,
)

CAMWATCH_LIGHT = Theme(
    name="camwatch-light",
    primary="#003D99",
    secondary="#1F4E8C",
    accent="#5A00B3",
    success="#006B1F",
    warning="#8A4B00",
    error="#B00020",
    foreground="#000000",
    background="#FFFFFF",
    surface="#FFFFFF",
    panel="#E4E7EB",
    dark=False,
    luminosity_spread=0.2,
    text_alpha=1.0,
)

CAMWATCH_MONO = Theme(
    name="camwatch-mono",
    primary="#C8C8C8",
    secondary="#A0A0A0",
    accent="#FFFFFF",
    success="#B4B4B4",
    warning="#E6E6E6",
    error="#FFFFFF",
    foreground="#DCDCDC",
    background="#000000",
    surface="#0A0A0A",
    panel="#262626",
    dark=True,
    text_alpha=1.0,
)

BUILTIN_THEMES: dict[str, Theme] = {
    t.name: t for t in (CAMWATCH_DARK, CAMWATCH_LIGHT, CAMWATCH_MONO)
}
