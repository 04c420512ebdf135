"""The key bar at the bottom: the shown bindings of the focused widget and its screen.

Textual's Footer re-creates one widget per key whenever focus or bindings
change; with a 1000-camera fleet that mount-and-restyle was a third of the
CPU of a key press like `escape` or `t`. This draws the same keys as one
line, rebuilt only when the keys shown change, so a key press that does not
change them costs nothing here. Colours come from the theme's footer variables.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

KeySpec = tuple[str, str, str, bool]  # (key, shown as, description, enabled)


def shown_keys(screen: Screen) -> tuple[tuple[KeySpec, ...], KeySpec | None]:
    """The bindings to show (one per action, in binding order) and the palette key."""
    keys: dict[str, KeySpec] = {}
    palette: KeySpec | None = None
    app = screen.app
    for key, active in screen.active_bindings.items():
        binding = active.binding
        spec = (binding.key, app.get_key_display(binding), binding.description, active.enabled)
        if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
            palette = spec
        elif binding.show and binding.action not in keys:
            keys[binding.action] = spec
    return tuple(keys.values()), palette


class KeyBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom; height: 1;
        background: $footer-background; color: $footer-foreground;
        & > .keybar--key {
            color: $footer-key-foreground; background: $footer-key-background; text-style: bold;
        }
        & > .keybar--description {
            color: $footer-description-foreground; background: $footer-description-background;
        }
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.keys: tuple[KeySpec, ...] = ()
        self.palette: KeySpec | None = None
        self.rebuilds = 0  # how often the keys shown changed (tests, bench)
        self._line: Strip | None = None
        self._spans: list[tuple[int, int, str]] = []  # (x0, x1, key) for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint())
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        keys, palette = shown_keys(screen)
        if (keys, palette) != (self.keys, self.palette):
            self.keys, self.palette = keys, palette
            self.rebuilds += 1
            self._repaint()

    def _repaint(self) -> None:
        self._line = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line = None

    @property
    def text(self) -> str:
        """The bar as plain text (what the user reads)."""
        return "".join(seg.text for seg in self._build(self.size.width or 200)).rstrip()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._line is None or self._line.cell_length != width:
            self._line = Strip(self._build(width), width).crop_extend(0, width, self.rich_style)
        return self._line

    def _build(self, width: int) -> list[Segment]:
        base = self.rich_style
        key_style = self.get_component_rich_style("keybar--key")
        desc_style = self.get_component_rich_style("keybar--description")
        dim = Style(dim=True)
        segments: list[Segment] = []
        spans: list[tuple[int, int, str]] = []
        x = 0
        for key, display, description, enabled in self.keys:
            part = [Segment(display, key_style), Segment(f" {description}", desc_style)]
            if not enabled:
                part = [Segment(s.text, (s.style or base) + dim) for s in part]
            size = len(display) + 1 + len(description)
            spans.append((x, x + size, key))
            segments += [*part, Segment("  ", base)]
            x += size + 2
        if self.palette is not None:
            key, display, description, _ = self.palette
            size = len(display) + 1 + len(description)
            start = max(x, width - size - 1)
            segments.append(Segment(" " * (start - x), base))
            segments += [Segment(display, key_style), Segment(f" {description}", desc_style)]
            spans.append((start, start + size, key))
        self._spans = spans
        return segments

    def on_click(self, event: events.Click) -> None:
        for x0, x1, key in self._spans:
            if x0 <= event.x < x1:
                self.app.simulate_key(key)
                return
