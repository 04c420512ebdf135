"""Camera images drawn with half blocks, refreshed only when asked and changed.

`ThumbView` does the work (fetch, render, build strips) for any widget that
draws an image in part of itself: the camera screen's `Thumbnail` and the
fleet's tiles, which stay single widgets so a page of 30 is cheap to restyle.
"""

from __future__ import annotations

from typing import ClassVar

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from camwatch.thumbs import Cells, Colour

from ..thumbsvc import ThumbService

_STYLE_CACHE: dict[tuple[Colour, Colour], Style] = {}
_STYLE_CACHE_MAX = 16384


def cell_style(fg: Colour, bg: Colour) -> Style:
    """A cached Rich style per colour pair: building Styles is the CPU cost of thumbnails."""
    key = (fg, bg)
    style = _STYLE_CACHE.get(key)
    if style is None:
        if len(_STYLE_CACHE) >= _STYLE_CACHE_MAX:
            _STYLE_CACHE.clear()
        style = _STYLE_CACHE[key] = Style(color=_colour(fg), bgcolor=_colour(bg))
    return style


def _colour(c: Colour) -> Color | None:
    if c is None:
        return None
    if isinstance(c, tuple):
        return Color.from_rgb(*c)
    return Color.from_ansi(c)


class ThumbView:
    """One camera's image for an area of width x height cells."""

    def __init__(self, service: ThumbService) -> None:
        self.service = service
        self.camera: str | None = None
        self.cells: Cells | None = None
        self.redraws = 0
        self._key: tuple[float, int, int] | None = None
        self._viewed = False
        self._strips: tuple[tuple[int, int, Style], list[Strip]] | None = None

    def show(self, camera: str | None) -> bool:
        """Point at another camera; True if it changed (the area needs repainting)."""
        if camera == self.camera:
            return False
        self.camera = camera
        self.cells, self._key, self._strips, self._viewed = None, None, None, False
        return True

    def renew(self) -> None:
        """The same camera shown again (a screen reopened): the next poll redraws it and
        records a new view in the audit log."""
        self._key, self._viewed = None, False

    def poll(self, width: int, height: int) -> bool:
        """Fetch the camera's frame; re-render if it is new or the area changed size."""
        if self.camera is None or not self.service.enabled or width <= 0 or height <= 0:
            return False
        sample = self.service.fetch(self.camera)
        if sample is None:
            return False
        key = (sample.at, width, height)
        if key == self._key:
            return False
        cells = self.service.render(sample, width, height)
        if cells is None:
            return False
        self.cells, self._key, self._strips = cells, key, None
        if not self._viewed:
            self._viewed = True
            self.service.record_view(self.camera)
        self.redraws += 1
        return True

    def lines(self, width: int, height: int, base: Style, note: Style) -> list[Strip]:
        token = (width, height, base)
        if self._strips is None or self._strips[0] != token:
            self._strips = (token, self._build(width, height, base, note))
        return self._strips[1]

    def _build(self, width: int, height: int, base: Style, note: Style) -> list[Strip]:
        cells = self.cells
        strips = [Strip.blank(width, base)] * height
        if cells is None or cells.height == 0:
            return self._note(strips, width, height, base, note)
        top = max(0, (height - cells.height) // 2)
        left = max(0, (width - cells.width) // 2)
        right = max(0, width - left - cells.width)
        styles: dict[tuple[Colour, Colour], Style] = {}
        for r, row in enumerate(cells.rows[: height - top]):
            segments = [Segment(" " * left, base)] if left else []
            for ch, fg, bg in row[:width]:
                style = styles.get((fg, bg))
                if style is None:
                    style = styles[fg, bg] = base + cell_style(fg, bg)
                segments.append(Segment(ch, style))
            if right:
                segments.append(Segment(" " * right, base))
            strips[top + r] = Strip(Segment.simplify(segments), width)
        return strips

    def _note(
        self, strips: list[Strip], width: int, height: int, base: Style, note: Style
    ) -> list[Strip]:
        if self.camera is None or not height:
            return strips
        text = "no image yet" if self.service.enabled else "image hidden (privacy)"
        text = text[:width]
        pad = (width - len(text)) // 2
        line = [Segment(" " * pad, base), Segment(text, base + note)]
        line.append(Segment(" " * (width - pad - len(text)), base))
        strips[height // 2] = Strip(line, width)
        return strips


class Thumbnail(Widget):
    """Shows `camera`'s latest frame filling the widget; `poll()` redraws only if it changed."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"thumbnail--note"}
    DEFAULT_CSS = """
    Thumbnail { width: 1fr; height: 1fr; }
    Thumbnail > .thumbnail--note { color: $text-muted; }
    """

    def __init__(self, service: ThumbService, camera: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view = ThumbView(service)
        self.view.show(camera)

    @property
    def cells(self) -> Cells | None:
        return self.view.cells

    @property
    def redraws(self) -> int:
        return self.view.redraws

    def show(self, camera: str | None, poll: bool = True) -> None:
        if self.view.show(camera):
            self.refresh()
            if poll:
                self.poll()

    def renew(self) -> None:
        self.view.renew()
        self.poll()

    def poll(self) -> bool:
        if self.view.poll(*self.size):
            self.refresh()
            return True
        return False

    def on_resize(self) -> None:
        self.poll()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        note = self.get_component_rich_style("thumbnail--note", partial=True)
        lines = self.view.lines(width, height, self.rich_style, note)
        return lines[y] if y < len(lines) else Strip.blank(width, self.rich_style)
