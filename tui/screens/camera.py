"""One camera: its image, stream figures with sparklines, each check against its threshold,
recent alerts, and the actions acknowledge, silence and capture baseline."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from camwatch.alerts.model import Alert, AlertState
from camwatch.redact import redact_text
from camwatch.state import CameraState, Severity, StatusChanged

from .. import format as fmt
from ..alertactions import ACK_BINDING, SILENCE_BINDING, ask_ack, ask_silence
from ..columns import Col
from ..widgets.keybar import KeyBar
from ..widgets.metrics import METRICS, MetricsPanel
from ..widgets.status_table import DetailTable, RowCells, StatusTable
from ..widgets.thumbnail import Thumbnail
from .base import DataScreen
from .dialogs import ConfirmDialog
from .zoom import ZoomScreen

EVENT_PREFIX = "\x00event:"  # rows of status changes under the alerts; never an alert id
CHECK_COLUMNS = (
    Col("kind", "Check", 14, 0),
    Col("state", "State", 9, 0),
    Col("value", "Value", 7, 1, right=True),
    Col("threshold", "Limit", 7, 1, right=True),
    Col("reason", "Reason", 12, 2, grow=1000),
)
ALERT_COLUMNS = (
    Col("sev", "Severity", 10, 0),
    Col("state", "State", 9, 0),
    Col("rule", "Rule", 12, 1),
    Col("reason", "Reason", 12, 2, grow=1000),
    Col("age", "Age", 6, 1, right=True),
)


def check_cells(state: CameraState) -> dict[str, RowCells]:
    rows: dict[str, RowCells] = {}
    # Firing checks first, so they are on screen even at 80x24.
    for c in sorted(state.conditions, key=lambda c: not c.active):
        if c.active:
            level = "bad" if c.severity is Severity.CRITICAL else "warn"
            word = "✖ firing" if c.severity is Severity.CRITICAL else "▲ firing"
        else:
            level, word = "ok", "● ok"
        rows[c.kind] = {
            "kind": (c.kind.replace("_", " "), ""),
            "state": (word, level),
            "value": (fmt.check_value(c.kind, c.value), level if c.active else ""),
            "threshold": (fmt.check_limit(c.kind, c.threshold), "muted"),
            "reason": (redact_text(c.reason), "muted"),
        }
    if not rows:
        rows["-"] = {"kind": ("no checks reported", "muted")}
    return rows


def event_cells(event: StatusChanged, now: float) -> RowCells:
    return {
        "sev": ("· event", "muted"),
        "state": (event.new.value, "muted"),
        "rule": (f"{event.old.value} → {event.new.value}", ""),
        "reason": (redact_text(event.reason), "muted"),
        "age": (fmt.duration(now - event.at), "muted"),
    }


def alert_cells(alert: Alert, now: float) -> RowCells:
    look = fmt.severity_look(alert.severity)
    state = fmt.alert_state_word(alert)
    return {
        "sev": (look.label, look.level.value),
        "state": (state, "muted" if alert.state is not AlertState.FIRING else look.level.value),
        "rule": (alert.rule, ""),
        "reason": (redact_text(alert.reason), "muted"),
        "age": (fmt.duration(now - alert.raised), "muted"),
    }


class CameraScreen(DataScreen):
    DEFAULT_CSS = """
    CameraScreen #topbar { height: 1; background: $panel; padding: 0 1; }
    CameraScreen #upper { height: 40%; min-height: 9; }
    CameraScreen #image, CameraScreen #stats {
        border: round $foreground 30%; border-title-color: $text-muted;
    }
    CameraScreen #image { width: 45%; }
    CameraScreen #image > .privacy { width: 1fr; height: 1fr; content-align: center middle;
        color: $text-muted; }
    CameraScreen #stats { width: 1fr; padding: 0 1; }
    CameraScreen #details { color: $text-muted; margin-top: 1; }
    CameraScreen #info { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    CameraScreen StatusTable {
        height: 1fr; border-top: solid $foreground 30%; border-title-color: $text-muted;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        ACK_BINDING,
        SILENCE_BINDING,
        Binding("b", "baseline", "Baseline"),
        Binding("r", "reload_image", "Image now", show=False),
        Binding("z", "zoom", "Zoom"),
    ]

    def __init__(self, camera: str = "") -> None:
        super().__init__()
        self.camera = camera

    def show_camera(self, camera: str) -> None:
        """Point this (reused) screen at another camera: the app keeps one camera screen
        per mode, so opening a camera costs a refresh instead of a compose and restyle."""
        if camera == self.camera:
            return
        self.camera = camera
        if not self.is_mounted:
            return
        current = self.is_current  # else the image is fetched (and audited) on resume
        for thumb in self.query(Thumbnail):
            thumb.show(camera, poll=current)
        for table in self.query(StatusTable):
            table.clear()
        self.query_one("#checks", StatusTable).focus()
        if current:
            self.refresh_data({camera}, True)

    def compose(self) -> ComposeResult:
        yield Static(id="topbar", markup=False)
        with Horizontal(id="upper"):
            with Vertical(id="image") as image:
                image.border_title = "image"
                if self.cw.thumbs.enabled:
                    yield Thumbnail(self.cw.thumbs, self.camera, id="thumb")
                else:
                    yield Static("image hidden (privacy)", classes="privacy")
            with Vertical(id="stats") as stats:
                stats.border_title = "stream"
                yield MetricsPanel(id="metrics")
                yield Static(id="details", markup=False)
        yield Static(id="info", markup=False)
        checks = DetailTable(CHECK_COLUMNS, id="checks")
        checks.border_title = "checks"
        yield checks
        alerts = DetailTable(ALERT_COLUMNS, id="alerts")
        alerts.border_title = "recent alerts and events"
        yield alerts
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_interval(self.cw.thumbs.interval, self.poll_thumbnails)
        self.query_one("#checks", StatusTable).focus()
        self.refresh_data({self.camera}, True)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        for thumb in self.query(Thumbnail):
            thumb.renew()  # shown again: a new view for the audit log

    @property
    def state(self) -> CameraState | None:
        return self.cw.fleet.states.get(self.camera)

    def poll_thumbnails(self) -> None:
        if self.is_current:
            for thumb in self.query(Thumbnail):
                thumb.poll()

    # --- data ------------------------------------------------------------------------

    def refresh_data(self, changed: set[str], alerts_changed: bool) -> None:
        if not self.is_mounted:
            return
        state = self.state
        now = self.cw.clock()
        if state is None:
            self.query_one("#topbar", Static).update(f"{self.camera} · no longer in the inventory")
            return
        self._update_top(state, now)
        if self.camera in changed:
            self._update_stats(state)
            self._update_info(state)
            checks = check_cells(state)
            self.query_one("#checks", StatusTable).sync(
                list(checks), checks.__getitem__, list(checks)
            )
        self._update_alerts(now)  # ages move every tick; at most 50 rows

    def _update_top(self, state: CameraState, now: float) -> None:
        look = self.cw.fleet.look(state)
        level = {
            fmt.Level.OK: "$text-success",
            fmt.Level.WARN: "$text-warning",
            fmt.Level.BAD: "$text-error",
            fmt.Level.IDLE: "$text-muted",
        }[look.level]
        parts: list[tuple[str, str] | str] = [
            (state.name, "bold"),
            "  ",
            (look.label, f"{level} bold"),
            f" for {fmt.duration(now - state.since)}",
        ]
        if state.site:
            parts.append(f" · site {state.site}")
        if state.tags:
            parts.append(f" · tags {', '.join(state.tags)}")
        self.query_one("#topbar", Static).update(Content.assemble(*parts))

    def _update_stats(self, state: CameraState) -> None:
        fleet = self.cw.fleet
        series = {key: fleet.series(self.camera, key) for key, _ in METRICS}
        self.query_one(MetricsPanel).update(state, series)

    def _update_info(self, state: CameraState) -> None:
        bits = [state.url]
        info = state.info
        if info is not None:
            res = f" {info.width}x{info.height}" if info.width and info.height else ""
            bits.append(f"{info.codec}{res} over {info.transport}")
        if state.reason:
            bits.append(redact_text(state.reason))
        self.query_one("#info", Static).update(" · ".join(bits))
        st, dec = state.stats, state.decode
        # Frames' jitter first: the jitter rule judges it (RTP's: RFC 3550, per packet).
        details = [f"jitter {st.frame_jitter_ms:.1f} ms (RTP {st.jitter_ms:.1f})"]
        if st.gop_s is not None:
            details.append(f"GOP {st.gop_s:.1f} s")
        if st.since_last_frame_s is not None:
            details.append(f"last frame {st.since_last_frame_s:.1f} s ago")
        details.append(f"frames {st.frames} ({st.keyframes} key, {st.frames_dropped} dropped)")
        details.append(f"reconnects {state.reconnects}")
        details.append(f"decode errors {dec.decode_errors}")
        self.query_one("#details", Static).update(" · ".join(details))

    def _update_alerts(self, now: float) -> None:
        rows: dict[str, RowCells] = {
            a.id: alert_cells(a, now) for a in self.cw.alerts.for_camera(self.camera)[:50]
        }
        events = self.cw.fleet.events.get(self.camera, ())
        for i, event in enumerate(reversed(events)):
            rows[f"{EVENT_PREFIX}{i}"] = event_cells(event, now)
        self.query_one("#alerts", StatusTable).sync(list(rows), rows.__getitem__, list(rows))

    # --- actions -------------------------------------------------------------------------

    def target_alert(self) -> Alert | None:
        """The alert under the cursor if it is unacknowledged, else the worst firing one."""
        table = self.query_one("#alerts", StatusTable)
        key = table.selected_key if table.has_focus else None
        alert = self.cw.alerts.get(key) if key else None
        if alert is not None and alert.state is AlertState.FIRING:
            return alert
        firing = [a for a in self.cw.alerts.for_camera(self.camera) if a.state is AlertState.FIRING]
        return firing[0] if firing else None

    def action_back(self) -> None:
        self.dismiss()

    def action_ack(self) -> None:
        alert = self.target_alert()
        if alert is None:
            self.notify(f"{self.camera} has no unacknowledged alert", severity="warning")
            return
        ask_ack(self, alert)

    def action_silence(self) -> None:
        state = self.state
        site, tags = (state.site, state.tags) if state else ("", ())
        ask_silence(self, self.camera, site, tags)

    def action_baseline(self) -> None:
        def done(yes: bool | None) -> None:
            if yes:
                self.cw.capture_baseline(self.camera)

        question = (
            f"Make {self.camera}'s current image the reference for focus and camera-moved checks?"
        )
        self.app.push_screen(ConfirmDialog("Capture baseline", question), done)

    def action_zoom(self) -> None:
        """The frame in real pixels, where the terminal has a pixel protocol."""
        protocol = self.cw.pixel_protocol
        if protocol is None:
            self.notify(
                "pixel zoom needs a kitty or sixel terminal "
                "(--pixels kitty or --pixels sixel forces one)",
                severity="warning",
            )
            return
        thumbs = self.cw.thumbs
        if not thumbs.enabled:
            self.notify("image hidden (privacy)", severity="warning")
            return
        sample = thumbs.fetch(self.camera)
        if sample is None:
            self.notify(f"no image of {self.camera} yet", severity="warning")
            return
        image = thumbs.privacy_image(sample)
        thumbs.record_view(self.camera)
        self.app.push_screen(ZoomScreen(self.camera, image, protocol))

    def action_reload_image(self) -> None:
        self.poll_thumbnails()

    def on_status_table_row_selected(self, event: StatusTable.RowSelected) -> None:
        if event.table.id == "alerts":
            self.action_ack()
