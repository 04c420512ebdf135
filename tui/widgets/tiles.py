"""Tile mode: a page of camera tiles that fits the screen, with thumbnails or health figures.

Only one page of tiles exists at a time (a pool sized to the screen), so a
1000-camera fleet costs as much as the 6 to 30 tiles on view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from camwatch.state import CameraState, Status

from .. import format as fmt
from ..thumbsvc import ThumbService
from .thumbnail import ThumbView

TILE_W = 26
TILE_H = 9
LEVEL_VARS = {
    fmt.Level.OK: "$text-success",
    fmt.Level.WARN: "$text-warning",
    fmt.Level.BAD: "$text-error",
    fmt.Level.IDLE: "$text-muted",
}


def figures(state: CameraState, reason: str | None = None) -> str:
    """`reason`: fmt.why of the camera with its open stream-rule alerts (default: without)."""
    st = state.stats
    reason = fmt.why(state) if reason is None else reason
    if state.status is not Status.LIVE:
        return reason or state.status.value
    lines = [f"{fmt.fps(st.fps)}fps {fmt.bitrate(st.bitrate_bps)} {fmt.percent(st.loss_ratio)}"]
    motion, sharp = fmt.motion(state), fmt.sharpness(state)
    if motion is not None or sharp is not None:
        sharp_text = "-" if sharp is None else f"{sharp:.0f}%"
        lines.append(f"motion {fmt.number(motion)} sharp {sharp_text}")
    if reason:
        lines.append(reason)
    return "\n".join(lines)


class Tile(Widget):
    """One camera: border with name and state, its image above a line of figures
    (or, without images, the figures filling the tile). A single widget: a page
    of tiles restyles (focus, theme) in one pass."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"tile--figures", "tile--note"}
    DEFAULT_CSS = """
    Tile {
        width: 1fr; height: 9;
        border: round $foreground 30%;
        border-title-color: $text; border-subtitle-color: $text-muted;
    }
    Tile.-selected { border: heavy $accent; }
    Tile > .tile--figures { color: $text-muted; }
    Tile > .tile--note { color: $text-muted; }
    """

    def __init__(self, service: ThumbService) -> None:
        super().__init__()
        self.service = service
        self.camera: str | None = None
        self.thumb: ThumbView | None = ThumbView(service) if service.enabled else None
        self.figures_text = ""
        self._shown: tuple[CameraState | None, bool, fmt.Look | None, str] | None = None

    @property
    def image_height(self) -> int:
        return max(0, self.size.height - 1) if self.thumb is not None else 0

    def show(
        self,
        state: CameraState | None,
        selected: bool,
        look: fmt.Look | None = None,
        reason: str | None = None,
    ) -> None:
        """`look` and `reason` (fmt.look, fmt.why) may count alerts besides the state."""
        if state is not None:
            look = look or fmt.look(state)
            reason = fmt.why(state) if reason is None else reason
        shown = (state, selected, look, reason or "")
        old = self._shown
        if old is not None and old[0] is state and old[1:] == shown[1:]:
            return  # every tick re-shows the page: touch nothing that did not change
        self._shown = shown
        self.display = state is not None
        self.set_class(selected, "-selected")
        if state is None:
            self.camera = None
            return
        self.camera = state.name
        look = look or fmt.look(state)
        self.border_title = Content(state.name)
        self.border_subtitle = Content.styled(look.label, LEVEL_VARS[look.level])
        self.figures_text = figures(state, reason)
        if self.thumb is not None and self.thumb.show(state.name):
            self.thumb.poll(self.size.width, self.image_height)
        self.refresh()

    def poll_thumb(self) -> bool:
        if self.thumb is None or self.camera is None:
            return False
        if self.thumb.poll(self.size.width, self.image_height):
            self.refresh()
            return True
        return False

    def on_resize(self) -> None:
        self.poll_thumb()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        image_h = self.image_height
        if y < image_h and self.thumb is not None:
            note = self.get_component_rich_style("tile--note", partial=True)
            return self.thumb.lines(width, image_h, base, note)[y]
        lines = self.figures_text.splitlines()
        i = y - image_h
        if not 0 <= i < len(lines):
            return Strip.blank(width, base)
        style = base + self.get_component_rich_style("tile--figures", partial=True)
        text = lines[i][:width]
        return Strip([Segment(text, style), Segment(" " * (width - len(text)), base)], width)

    def on_click(self, event: events.Click) -> None:
        if self.camera is not None:
            self.post_message(TileGrid.Clicked(self.camera, event.chain))


class TileGrid(Widget, can_focus=True):
    DEFAULT_CSS = """
    TileGrid { layout: grid; grid-size: 3; grid-rows: 9; height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("left,h", "move(-1, 0)", "Left", show=False),
        Binding("right,l", "move(1, 0)", "Right", show=False),
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False),
        Binding("g,home", "jump(0)", "First", show=False),
        Binding("G,end", "jump(-1)", "Last", show=False),
    ]

    class Opened(Message):
        def __init__(self, camera: str) -> None:
            super().__init__()
            self.camera = camera

    class Clicked(Message):
        def __init__(self, camera: str, chain: int) -> None:
            super().__init__()
            self.camera = camera
            self.chain = chain

    def __init__(self, service: ThumbService, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.service = service
        self.names: list[str] = []
        self.index = 0
        self.cols = 1
        self.capacity = 0
        self._states: Callable[[str], CameraState | None] = lambda _name: None
        self._look: Callable[[CameraState], fmt.Look] = fmt.look
        self._why: Callable[[CameraState], str] = fmt.why

    def watch_has_focus(self, _has_focus: bool) -> None:
        # Textual restyles a focused widget with all its descendants; nothing in the
        # tiles depends on the grid's focus, and restyling 30 of them cost ~10 ms a key.
        self.app.stylesheet.update_nodes([self], animate=False)

    # --- data ------------------------------------------------------------------

    def set_cameras(
        self,
        names: list[str],
        states: Callable[[str], CameraState | None],
        look: Callable[[CameraState], fmt.Look] = fmt.look,
        why: Callable[[CameraState], str] = fmt.why,
    ) -> None:
        """Show `names` (states looked up by name); `look` and `why` word each camera."""
        selected = self.selected
        self.names = names
        self._states = states
        self._look, self._why = look, why
        if selected in names:
            self.index = names.index(selected)
        self.index = max(0, min(self.index, len(names) - 1))
        self._show_page()

    @property
    def selected(self) -> str | None:
        return self.names[self.index] if 0 <= self.index < len(self.names) else None

    def select(self, camera: str) -> None:
        if camera in self.names:
            self.index = self.names.index(camera)
            self._show_page()

    def tiles(self) -> list[Tile]:
        return list(self.query(Tile))

    def visible_cameras(self) -> list[str]:
        return [t.camera for t in self.tiles() if t.camera is not None]

    def poll_thumbnails(self) -> int:
        """Refresh the thumbnails on view that changed; returns how many were redrawn."""
        if not self.display:
            return 0
        return sum(1 for t in self.tiles() if t.poll_thumb())

    # --- layout ----------------------------------------------------------------

    def on_resize(self) -> None:
        width, height = self.size
        cols = max(1, width // TILE_W)
        capacity = cols * max(1, height // TILE_H)
        if (cols, capacity) == (self.cols, self.capacity):
            return
        self.cols, self.capacity = cols, capacity
        self.styles.grid_size_columns = cols
        self.remove_children()
        self.mount_all(Tile(self.service) for _ in range(capacity))
        self.call_after_refresh(self._show_page)

    def _show_page(self) -> None:
        if not self.capacity:
            return
        start = (self.index // self.capacity) * self.capacity
        for i, tile in enumerate(self.tiles()):
            pos = start + i
            state = self._states(self.names[pos]) if pos < len(self.names) else None
            if state is None:
                tile.show(None, pos == self.index)
            else:
                tile.show(state, pos == self.index, self._look(state), self._why(state))

    # --- actions ---------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        if not self.names:
            return
        self.index = max(0, min(len(self.names) - 1, self.index + dx + dy * self.cols))
        self._show_page()

    def action_page(self, direction: int) -> None:
        if self.names and self.capacity:
            step = direction * self.capacity
            self.index = max(0, min(len(self.names) - 1, self.index + step))
            self._show_page()

    def action_jump(self, where: int) -> None:
        if self.names:
            self.index = 0 if where == 0 else len(self.names) - 1
            self._show_page()

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))

    def on_tile_grid_clicked(self, message: Clicked) -> None:
        message.stop()
        self.focus()
        if message.camera == self.selected or message.chain > 1:
            self.post_message(self.Opened(message.camera))
        else:
            self.select(message.camera)
