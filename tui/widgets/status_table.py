"""A table that keeps up with a live fleet of 1000 cameras over a slow link.

Textual's DataTable re-renders every visible cell through Rich's layout
pipeline whenever any cell changes, and repaints the whole widget: measured
at 100+ ms per refresh of a 160x48 table, and the whole table re-sent over SSH
twice a second. This Line API widget instead

- computes a row's cells only when the row is on screen (rows that changed
  off screen are just marked stale),
- builds each visible line directly from segments with cached styles,
- repaints only the lines whose text changed, so an unchanged fleet costs
  no bytes and one camera going offline costs one line,
- reorders, filters and groups by swapping a list of keys (no re-measuring).

Cell colours come from component classes whose CSS uses theme variables
only ($text-success...). Columns drop by priority to fit (tui.columns.plan).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..columns import Col, plan

CellSpec = tuple[str, str]  # (text, level: "" | ok | warn | bad | idle | muted | group)
RowCells = dict[str, CellSpec]
LEVELS = ("ok", "warn", "bad", "idle", "muted", "group")
_EMPTY: CellSpec = ("", "")
_LINE_CACHE_MAX = 4000


def fit(text: str, width: int, right: bool = False) -> str:
    """text in exactly `width` cells: cut with an ellipsis, padded left or right."""
    size = len(text) if text.isascii() else cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - size)
    return pad + text if right else text + pad


class StatusTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--header",
        "status--cursor",
        *(f"status--{level}" for level in LEVELS),
    }
    DEFAULT_CSS = """
    StatusTable {
        background: $surface; color: $foreground; height: 1fr;
        scrollbar-size-vertical: 1; scrollbar-gutter: stable; overflow-x: hidden;
        & > .status--header { background: $panel; color: $foreground; text-style: bold; }
        & > .status--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .status--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .status--ok { color: $text-success; }
        & > .status--warn { color: $text-warning; text-style: bold; }
        & > .status--bad { color: $text-error; text-style: bold; }
        & > .status--idle { color: $text-muted; }
        & > .status--muted { color: $text-muted; }
        & > .status--group { color: $text-primary; text-style: bold; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup,ctrl+u", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+d", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
    ]

    class RowSelected(Message):
        """Enter (or a click on the cursor row) on a row."""

        def __init__(self, table: StatusTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> StatusTable:
            return self.table

    class HeaderSelected(Message):
        """A click on a column header."""

        def __init__(self, table: StatusTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> StatusTable:
            return self.table

    def __init__(self, columns: tuple[Col, ...], **kwargs: Any) -> None:
        """columns: every column it may show; they drop by priority to fit the width."""
        super().__init__(**kwargs)
        self.all_columns = columns
        self.planned: list[tuple[Col, int]] = []
        self.headers: dict[str, str] = {}
        self.cursor_row = 0
        self.repaints = 0  # lines repainted because their content changed (for tests, bench)
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, RowCells] = {}
        self._stale: set[str] = set()
        self._cells_for: Callable[[str], RowCells] | None = None
        self._styles: dict[str, Style] = {}
        self._lines: dict[tuple[str, bool], Strip] = {}
        self._header: Strip | None = None
        self._signature: tuple[Style, ...] | None = None  # styles the cached lines use
        self._check_styles = False

    # --- data ------------------------------------------------------------------------

    @property
    def order(self) -> list[str]:
        return list(self._order)

    @property
    def columns(self) -> list[str]:
        return [c.key for c, _ in self.planned]

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._order):
            return self._order[self.cursor_row]
        return None

    def get_cell(self, key: str, column: str) -> str:
        """The text shown (or to be shown when scrolled into view) in a cell."""
        return self._spec(key).get(column, _EMPTY)[0]

    def cell_style(self, key: str, column: str) -> Style:
        return self.style(self._spec(key).get(column, _EMPTY)[1])

    def sync(
        self,
        keys: list[str],
        cells_for: Callable[[str], RowCells],
        changed: Iterable[str] = (),
    ) -> None:
        """Show rows `keys` in this order. Rows in `changed` are recomputed when next
        on screen; rows on screen now are recomputed at once and repainted if different."""
        self._cells_for = cells_for
        self._plan()
        self._stale.update(changed)
        if keys != self._order:
            selected = self.selected_key
            self._order = list(keys)
            self._index = {key: i for i, key in enumerate(self._order)}
            for gone in [k for k in self._cells if k not in self._index]:
                del self._cells[gone]
            self._stale.intersection_update(self._index)
            self.virtual_size = Size(self.scrollable_content_region.width, len(keys) + 1)
            self._place_cursor(selected)
            self.refresh()
        self.refresh_visible()

    def clear(self) -> None:
        """No rows, cursor and scroll at the top (the table is about to show other data)."""
        self._order, self._index, self._cells = [], {}, {}
        self._stale.clear()
        self._lines.clear()
        self.cursor_row = 0
        self.virtual_size = Size(self.scrollable_content_region.width, 1)
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def refresh_visible(self, cells_for: Callable[[str], RowCells] | None = None) -> None:
        """Recompute the rows on screen and repaint the lines that changed."""
        if cells_for is not None:
            self._cells_for = cells_for
        top = int(self.scroll_y)
        for i in range(top, min(len(self._order), top + self._page())):
            self._recompute(self._order[i])

    def set_headers(self, headers: dict[str, str]) -> None:
        """Column labels by key (e.g. with a sort arrow)."""
        self.headers = headers
        self._header = None
        self.refresh(Region(0, 0, self.size.width, 1))

    def select_key(self, key: str) -> None:
        if key in self._index:
            self.move_cursor(self._index[key])

    def move_cursor(self, row: int) -> None:
        if not self._order:
            self.cursor_row = 0
            return
        row = max(0, min(row, len(self._order) - 1))
        old, self.cursor_row = self.cursor_row, row
        self._refresh_row(old)
        self._refresh_row(row)
        self._scroll_to_cursor()

    def visible_keys(self) -> list[str]:
        top = int(self.scroll_y)
        return self._order[top : top + self._page()]

    # --- actions ----------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self._page() - 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self._order) - 1)

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = 0
            for col, width in self.planned:
                if x <= event.x < x + width + 2:
                    self.post_message(self.HeaderSelected(self, col.key))
                    return
                x += width + 2
            return
        row = int(self.scroll_y) + event.y - 1
        if not 0 <= row < len(self._order):
            return
        if row == self.cursor_row or event.chain > 1:
            self.move_cursor(row)
            self.action_select()
        else:
            self.move_cursor(row)

    # --- Textual hooks ------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def on_resize(self) -> None:
        self._plan()
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._order) + 1)
        self.refresh_visible()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if int(old_value) != int(new_value):
            self.refresh_visible()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Component styles (the cursor's) are updated after this call: compare them when
        # the lines are next drawn. A focus change usually alters only the cursor's look,
        # and then only its line is rebuilt instead of all 46.
        self._check_styles = True
        self.refresh()

    def _restyle_if_changed(self) -> None:
        self._check_styles = False
        signature = self._style_signature()
        if signature is not None and signature == self._signature:
            return
        old = self._signature
        if signature is not None and old is not None and signature[1:] == old[1:]:
            self._signature = signature
            self._styles.pop("cursor", None)
            for key in [k for k in self._lines if k[1]]:
                del self._lines[key]
            return
        self._clear_caches()  # called while drawing: the repaint is under way

    def _style_signature(self) -> tuple[Style, ...] | None:
        try:
            return (
                self.get_component_rich_style("status--cursor"),
                self.rich_style,
                *(self.get_component_rich_style(f"status--{c}") for c in ("header", *LEVELS)),
            )
        except KeyError:  # component styles not set up yet (first styling)
            return None

    def render_line(self, y: int) -> Strip:
        if self._check_styles:
            self._restyle_if_changed()
        width = self.scrollable_content_region.width
        if y == 0:
            if self._header is None or self._header.cell_length != width:
                self._header = self._build_header(width)
            return self._header
        i = int(self.scroll_y) + y - 1
        if i >= len(self._order):
            return Strip.blank(width, self.rich_style)
        key = self._order[i]
        cursor = i == self.cursor_row
        line = self._lines.get((key, cursor))
        if line is None or line.cell_length != width:
            if len(self._lines) > _LINE_CACHE_MAX:
                self._lines.clear()
            line = self._lines[key, cursor] = self._build_row(key, cursor, width)
        return line

    # --- internals ------------------------------------------------------------------------

    def style(self, level: str) -> Style:
        """Style of a level, resolved against the table's background (so colours like
        "auto 60%" work)."""
        style = self._styles.get(level)
        if style is None:
            if level in ("header", "cursor"):
                style = self.get_component_rich_style(f"status--{level}")
            elif level:
                name = f"status--{level}"
                full = self.get_component_rich_style(name)
                part = self.get_component_rich_style(name, partial=True)
                style = self.rich_style + Style(color=full.color, bold=part.bold)
            else:
                style = self.rich_style
            self._styles[level] = style
        return style

    def _restyle(self) -> None:
        self._clear_caches()
        self.refresh()

    def _clear_caches(self) -> None:
        self._signature = self._style_signature()
        self._styles.clear()
        self._lines.clear()
        self._header = None

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _plan(self) -> None:
        width = self.scrollable_content_region.width or self.app.size.width - 1
        planned = plan(self.all_columns, max(10, width))
        if planned != self.planned:
            self.planned = planned
            self._lines.clear()
            self._header = None
            self.refresh()

    def _spec(self, key: str) -> RowCells:
        spec = self._cells.get(key)
        if (spec is None or key in self._stale) and self._cells_for is not None:
            spec = self._cells[key] = self._cells_for(key)
            self._stale.discard(key)
        return spec or {}

    def _recompute(self, key: str) -> None:
        if self._cells_for is None:
            return
        spec = self._cells_for(key)
        self._stale.discard(key)
        if self._cells.get(key) == spec:
            return
        self._cells[key] = spec
        self._lines.pop((key, False), None)
        self._lines.pop((key, True), None)
        self.repaints += 1
        self._refresh_row(self._index.get(key, -1))

    def _refresh_row(self, row: int) -> None:
        y = row - int(self.scroll_y) + 1
        if 1 <= y <= self._page():
            self.refresh(Region(0, y, self.size.width, 1))

    def _place_cursor(self, selected: str | None) -> None:
        if selected is not None and selected in self._index:
            self.cursor_row = self._index[selected]
        self.cursor_row = max(0, min(self.cursor_row, len(self._order) - 1))
        self.call_after_refresh(self._scroll_to_cursor)

    def _scroll_to_cursor(self) -> None:
        page = self._page()
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def _build_header(self, width: int) -> Strip:
        style = self.style("header")
        segments = [
            Segment(" " + fit(self.headers.get(c.key, c.label), w, c.right) + " ", style)
            for c, w in self.planned
        ]
        return self._finish(segments, width, style)

    def _build_row(self, key: str, cursor: bool, width: int) -> Strip:
        spec = self._spec(key)
        base = self.style("cursor") if cursor else self.style("")
        segments = []
        for col, w in self.planned:
            text, level = spec.get(col.key, _EMPTY)
            style = base if cursor else self.style(level)
            segments.append(Segment(" " + fit(text, w, col.right) + " ", style))
        return self._finish(segments, width, base)

    @staticmethod
    def _finish(segments: list[Segment], width: int, style: Style) -> Strip:
        used = sum(seg.cell_length for seg in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments).crop(0, width)


class DetailTable(StatusTable):
    """A StatusTable whose rows open nothing (enter is not advertised)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
    ]
