"""`?`: the keys of the screen underneath (from its bindings, so always true) and the legend."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from .. import format as fmt

LEVEL_VARS = {
    fmt.Level.OK: "$text-success",
    fmt.Level.WARN: "$text-warning",
    fmt.Level.BAD: "$text-error",
    fmt.Level.IDLE: "$text-muted",
}
FILTER_HELP = (
    "Filter (/): words match name, site, tag or state; or use field:value —\n"
    "  fleet: name: site: tag: state:    alerts: camera: site: sev: rule: state:\n"
    "  e.g.  site:north state:off    sev:crit gate"
)
HEALTH_HELP = (
    "The line above the keys: whether cameras are sampled on schedule (and the\n"
    "median time between samples), the CPU decoding takes, the event loop's lag\n"
    "(p99). OVERLOADED: CPU is short; every camera is still sampled, less often."
)


# Generic bindings of Textual widgets that mean nothing to a camwatch user.
_NOISE = frozenset(
    {
        "cursor_left",
        "cursor_right",
        "page_left",
        "page_right",
        "scroll_home",
        "scroll_end",
        "scroll_left",
        "scroll_right",
        "scroll_up",
        "scroll_down",
        "app.focus_next",
        "app.focus_previous",
        "screen.copy_text",
        "command_palette",
    }
)


def key_lines(screen: Screen) -> list[tuple[str, str]]:
    """(keys, description) for every binding active on `screen`, merged by action."""
    seen: dict[str, tuple[list[str], str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in _NOISE:
            continue
        display = screen.app.get_key_display(binding)
        entry = seen.setdefault(binding.action, ([], binding.description))
        if display not in entry[0]:
            entry[0].append(display or key)
    return [(" ".join(keys), desc) for keys, desc in seen.values()]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .section { color: $text-primary; text-style: bold; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]

    def __init__(self, origin: Screen) -> None:
        super().__init__()
        self.origin = origin

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "camwatch help"
            yield Static("Keys here", classes="section")
            lines = key_lines(self.origin)
            width = max((len(k) for k, _ in lines), default=0)
            yield Static("\n".join(f"{k.ljust(width)}  {d}" for k, d in lines), markup=False)
            yield Static("Everywhere", classes="section")
            yield Static(
                "1 fleet · 2 alerts · : or ctrl+p commands · ? help · q quit\n"
                "arrows or j k move · g G top and bottom · enter open · esc back",
                markup=False,
            )
            yield Static("States", classes="section")
            parts: list[tuple[str, str] | str] = []
            for look in fmt.LEGEND:
                parts += [(look.label, LEVEL_VARS[look.level]), "   "]
            yield Static(Content.assemble(*parts))
            yield Static(
                "✖ covers offline, stalled, auth failed, not found and unsupported.",
                markup=False,
            )
            yield Static("Filter", classes="section")
            yield Static(FILTER_HELP, markup=False)
            if self._shows_health():
                yield Static("Fleet health", classes="section")
                yield Static(HEALTH_HELP, markup=False)

    def _shows_health(self) -> bool:
        """Explained only where the line is shown: the fleet screen, once the core reported."""
        return bool(self.origin.query("#health.-known"))

    def action_close(self) -> None:
        self.dismiss()
