"""The fleet: every camera's state, sorted worst first, filterable, grouped by site, or as tiles;
under them, one line of the fleet's own health once the core reports it."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content

from camwatch.state import CameraState, Status

from .. import format as fmt
from ..alertactions import FILTER_BINDING, TOPBAR_CSS, FilteredScreen
from ..columns import Col
from ..query import CAMERA_FIELDS, match_camera
from ..widgets.health import HealthLine
from ..widgets.keybar import KeyBar
from ..widgets.status_table import RowCells, StatusTable
from ..widgets.tiles import TileGrid

GROUP_PREFIX = "\x00site:"  # row keys of site headers; camera names never hold NUL

COLUMNS = (
    Col("state", "State", 13, 0),
    Col("name", "Camera", 14, 0, grow=6),
    Col("since", "For", 6, 1, right=True),
    Col("site", "Site", 10, 3),
    Col("fps", "FPS", 5, 2, right=True),
    Col("bitrate", "Rate", 5, 3, right=True),
    Col("loss", "Loss", 5, 2, right=True, descending=True),
    Col("motion", "Motion", 6, 4, right=True, descending=True),
    Col("why", "Conditions", 16, 1, grow=1000),
)
SORTABLE = tuple(c.key for c in COLUMNS)
_COLUMN = {c.key: c for c in COLUMNS}
LEVEL_VARS = {
    fmt.Level.OK: "$text-success",
    fmt.Level.WARN: "$text-warning",
    fmt.Level.BAD: "$text-error",
    fmt.Level.IDLE: "$text-muted",
}


@functools.lru_cache(maxsize=8192)
def natural(name: str) -> tuple:
    """cam-2 before cam-10."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def sort_key(column: str, st: CameraState, look: fmt.Look) -> tuple:
    name = natural(st.name)
    live = st.status is Status.LIVE
    stats = st.stats
    if column == "name":
        return name
    if column == "site":
        return (st.site.lower(), look.rank, name)
    if column == "fps":
        return (stats.fps if live else -1.0, name)
    if column == "bitrate":
        return (stats.bitrate_bps if live else -1.0, name)
    if column == "loss":
        return (stats.loss_ratio, name)
    if column == "motion":
        m = fmt.motion(st)
        return (-1.0 if m is None else m, name)
    if column == "why":
        return (len(st.active_conditions()), -look.rank, name)
    if column == "since":
        return (st.since, name)
    return (look.rank, name)


def camera_cells(
    st: CameraState, now: float, look: fmt.Look | None = None, why: str | None = None
) -> RowCells:
    look = look or fmt.look(st)
    why = fmt.why(st) if why is None else why
    live = st.status is Status.LIVE
    stats = st.stats
    loss_level = "warn" if fmt.lossy(st) else ""
    motion = fmt.motion(st)
    why_level = look.level.value if look.level in (fmt.Level.WARN, fmt.Level.BAD) else "muted"
    return {
        "state": (look.label, look.level.value),
        "name": (st.name, ""),
        "site": (st.site, "muted"),
        "fps": (fmt.fps(stats.fps) if live else "-", ""),
        "bitrate": (fmt.bitrate(stats.bitrate_bps) if live else "-", ""),
        "loss": (fmt.percent(stats.loss_ratio) if live else "-", loss_level),
        "motion": ("-" if motion is None else f"{fmt.level_bar(motion)} {motion:.0f}", ""),
        "why": (why, why_level),
        "since": (fmt.duration(now - st.since), "muted"),
    }


def summary(looks: Iterable[fmt.Look]) -> list[tuple[str, int, fmt.Level]]:
    """(word, count, level) for each state present: live first, then worst first."""
    counts: Counter[str] = Counter()
    levels: dict[str, tuple[int, fmt.Level]] = {}
    for look in looks:
        counts[look.word] += 1
        levels[look.word] = (look.rank, look.level)
    order = sorted(counts, key=lambda w: (w != "live", levels[w][0], w))
    return [(w, counts[w], levels[w][1]) for w in order]


class FleetScreen(FilteredScreen):
    DEFAULT_CSS = TOPBAR_CSS.format(name="FleetScreen") + "FleetScreen TileGrid { display: none; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        FILTER_BINDING,
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse sort", show=False),
        Binding("z", "group", "Group by site"),
        Binding("t", "tiles", "Tiles"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    FILTER_FIELDS = CAMERA_FIELDS

    def __init__(self) -> None:
        super().__init__()
        self.sort_column = "state"
        self.reverse = False
        self.grouped = False
        self.collapsed: set[str] = set()
        self.tile_mode = False
        self._keys: list[str] = []
        self._dirty = True
        self._counted: tuple[int, list[tuple[str, int, fmt.Level]]] | None = None

    def compose(self) -> ComposeResult:
        yield self.top_bar("filter: words, site:…, tag:…, state:…")
        yield StatusTable(COLUMNS, id="fleet")
        yield TileGrid(self.cw.thumbs, id="tiles")
        yield HealthLine(id="health")
        yield KeyBar()

    def on_mount(self) -> None:
        self.cw.fleet_view = self
        self.table.focus()
        self.set_interval(self.cw.thumbs.interval, self.poll_thumbnails)
        self._update_headers()
        self.refresh_data(set(self.cw.fleet.states), True)

    @property
    def table(self) -> StatusTable:
        return self.query_one("#fleet", StatusTable)

    @property
    def tiles(self) -> TileGrid:
        return self.query_one("#tiles", TileGrid)

    @property
    def health(self) -> HealthLine:
        return self.query_one("#health", HealthLine)

    # --- data ----------------------------------------------------------------------

    def refresh_data(self, changed: set[str], alerts_changed: bool) -> None:
        if not self.is_mounted:
            return
        if changed or self._dirty:
            self._keys = self.row_keys()
            self._dirty = False
        now = self.cw.clock()
        states = self.cw.fleet.states
        if self.tile_mode:
            names = [k for k in self._keys if not k.startswith(GROUP_PREFIX)]
            self.tiles.set_cameras(names, states.get, self.cw.fleet.look, self.cw.fleet.why)
        else:
            self.table.sync(self._keys, lambda key: self.cells(key, now), changed)
        self._update_counts(alerts_changed)
        self.refresh_health()

    def refresh_health(self) -> None:
        """Show the latest FleetHealth; the line repaints only when it reads differently."""
        if self.is_mounted:
            self.health.show(self.cw.fleet.health)

    def row_keys(self) -> list[str]:
        """Row keys in display order: the filtered cameras, sorted, maybe under site headers."""
        items = []
        fleet = self.cw.fleet
        for st in fleet.states.values():
            look = fleet.look(st)
            if not self.query_text or match_camera(self.query_text, st, look):
                items.append((sort_key(self.sort_column, st, look), st.name, st.site))
        descending = _COLUMN[self.sort_column].descending != self.reverse
        items.sort(key=lambda item: item[0], reverse=descending)
        if not self.grouped:
            return [name for _, name, _ in items]
        by_site: dict[str, list[str]] = {}
        for _, name, site in items:
            by_site.setdefault(site, []).append(name)
        keys: list[str] = []
        for site in sorted(by_site, key=str.lower):
            keys.append(GROUP_PREFIX + site)
            if site not in self.collapsed:
                keys.extend(by_site[site])
        return keys

    def cells(self, key: str, now: float) -> RowCells:
        if key.startswith(GROUP_PREFIX):
            return self._group_cells(key[len(GROUP_PREFIX) :])
        st = self.cw.fleet.states[key]
        fleet = self.cw.fleet
        return camera_cells(st, now, fleet.look(st), fleet.why(st))

    def _group_cells(self, site: str) -> RowCells:
        fleet = self.cw.fleet
        looks = [fleet.look(s) for s in fleet.states.values() if s.site == site]
        problems = [(w, n) for w, n, _ in summary(looks) if w != "live"]
        worst = min(looks, key=lambda lk: lk.rank) if looks else fmt.LIVE
        arrow = "▸" if site in self.collapsed else "▾"
        return {
            "state": (f"{arrow} {site or '(no site)'}", "group"),
            "name": (f"{len(looks)} cameras", "group"),
            "why": (" · ".join(f"{n} {w}" for w, n in problems), worst.level.value),
        }

    def _update_counts(self, alerts_changed: bool) -> None:
        parts: list[tuple[str, str] | str] = []
        for word, count, level in self._summary():
            if parts:
                parts.append(" · ")
            parts.append((f"{count} {word}", LEVEL_VARS[level]))
        if not parts:
            parts.append(("no cameras", "$text-muted"))
        firing = len(self.cw.alerts.firing())
        if firing:
            parts.append(("   ", ""))
            parts.append((f"⚑ {firing} alert{'s' if firing != 1 else ''}", "$text-error bold"))
        self._set_text("#counts", Content.assemble(*parts))
        self._set_text("#view", self._view_text())

    def _summary(self) -> list[tuple[str, int, fmt.Level]]:
        fleet = self.cw.fleet
        if self._counted is None or self._counted[0] != fleet.version:
            self._counted = (fleet.version, summary(fleet.look(s) for s in fleet.states.values()))
        return self._counted[1]

    def _view_text(self) -> str:
        arrow = "↓" if (_COLUMN[self.sort_column].descending != self.reverse) else "↑"
        shown = sum(1 for k in self._keys if not k.startswith(GROUP_PREFIX))
        bits = [f"sort {_COLUMN[self.sort_column].label.lower()} {arrow}"]
        if self.grouped:
            bits.append("by site")
        if self.query_text:
            bits.append(f"filter “{self.query_text.text}” {shown}/{len(self.cw.fleet.states)}")
        if self.cw.link_notice:
            bits.insert(0, f"⚠ {self.cw.link_notice}")
        return " · ".join(bits)

    def _update_headers(self) -> None:
        arrow = "↓" if (_COLUMN[self.sort_column].descending != self.reverse) else "↑"
        self.table.set_headers({self.sort_column: f"{_COLUMN[self.sort_column].label} {arrow}"})

    def _changed_view(self) -> None:
        self._dirty = True
        self._update_headers()
        self.refresh_data(set(), False)

    def poll_thumbnails(self) -> None:
        if self.is_current and self.tile_mode:
            self.tiles.poll_thumbnails()

    # --- actions -----------------------------------------------------------------------

    def action_clear_filter(self) -> None:
        had_filter = self.clear_filter()
        self._focus_main()
        if had_filter:
            self._changed_view()

    def sort_by(self, column: str, reverse: bool = False) -> None:
        if column not in _COLUMN:
            return
        self.sort_column, self.reverse = column, reverse
        self._changed_view()

    def action_sort_next(self) -> None:
        i = SORTABLE.index(self.sort_column)
        self.sort_by(SORTABLE[(i + 1) % len(SORTABLE)])

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.reverse)

    def action_group(self) -> None:
        self.grouped = not self.grouped
        self._changed_view()

    def action_tiles(self) -> None:
        selected = self.table.selected_key if not self.tile_mode else self.tiles.selected
        self.tile_mode = not self.tile_mode
        # Toggle the two widgets directly: a class on the screen would restyle every tile.
        self.tiles.display = self.tile_mode
        self.table.display = not self.tile_mode
        self._changed_view()
        if self.tile_mode:
            if selected and not selected.startswith(GROUP_PREFIX):
                self.tiles.select(selected)
            self.call_after_refresh(self.poll_thumbnails)
        elif self.tiles.selected:
            self.table.select_key(self.tiles.selected)
        self._focus_main()

    def _focus_main(self) -> None:
        (self.tiles if self.tile_mode else self.table).focus()

    def on_status_table_row_selected(self, event: StatusTable.RowSelected) -> None:
        key = event.key
        if key.startswith(GROUP_PREFIX):
            site = key[len(GROUP_PREFIX) :]
            self.collapsed ^= {site}
            self._changed_view()
        else:
            self.cw.open_camera(key)

    def on_status_table_header_selected(self, event: StatusTable.HeaderSelected) -> None:
        key = event.column
        self.sort_by(key, reverse=(key == self.sort_column and not self.reverse))

    def on_tile_grid_opened(self, message: TileGrid.Opened) -> None:
        self.cw.open_camera(message.camera)
