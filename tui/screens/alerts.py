"""The alert feed: live alerts worst and newest first, history from the store on demand."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content

from camwatch.alerts.model import Alert, AlertState
from camwatch.redact import redact_text
from camwatch.state import Severity

from .. import format as fmt
from ..alertactions import (
    ACK_BINDING,
    FILTER_BINDING,
    SILENCE_BINDING,
    TOPBAR_CSS,
    FilteredScreen,
    ask_ack,
    ask_silence,
)
from ..columns import Col
from ..query import ALERT_FIELDS, match_alert
from ..widgets.keybar import KeyBar
from ..widgets.status_table import RowCells, StatusTable

COLUMNS = (
    Col("sev", "Severity", 10, 0),
    Col("state", "State", 9, 0),
    Col("camera", "Camera", 14, 0, grow=6),
    Col("site", "Site", 10, 3),
    Col("rule", "Rule", 12, 2),
    Col("reason", "Reason", 14, 1, grow=1000),
    Col("age", "Age", 6, 1, right=True),
    Col("by", "Acked by", 10, 4),
)
RECENT_RESOLVED_S = 15 * 60  # the live feed keeps resolved alerts this long
SEVERITY_FILTERS: tuple[Severity | None, ...] = (None, Severity.CRITICAL, Severity.WARNING)


def alert_row(alert: Alert, now: float) -> RowCells:
    look = fmt.severity_look(alert.severity)
    firing = alert.state is AlertState.FIRING
    return {
        "sev": (look.label, look.level.value if alert.state is not AlertState.RESOLVED else "idle"),
        "state": (fmt.alert_state_word(alert), look.level.value if firing else "muted"),
        "camera": (alert.camera, ""),
        "site": (alert.site, "muted"),
        "rule": (alert.rule, ""),
        "reason": (redact_text(alert.reason), "muted"),
        "age": (fmt.duration(now - alert.raised), "muted"),
        "by": (alert.acked_by or "", "muted"),
    }


class AlertsScreen(FilteredScreen):
    DEFAULT_CSS = TOPBAR_CSS.format(name="AlertsScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        ACK_BINDING,
        SILENCE_BINDING,
        Binding("f", "severity", "Severity"),
        Binding("h", "history", "History"),
        FILTER_BINDING,
        Binding("escape", "back", "Back", show=False),
    ]
    FILTER_FIELDS = ALERT_FIELDS

    def __init__(self) -> None:
        super().__init__()
        self.severity: Severity | None = None
        self.history = False
        self.history_loading = False
        self._alerts: dict[str, Alert] = {}

    def compose(self) -> ComposeResult:
        yield self.top_bar("filter: words, sev:…, site:…, rule:…")
        yield StatusTable(COLUMNS, id="feed")
        yield KeyBar()

    def on_mount(self) -> None:
        self.table.focus()
        self.refresh_data(set(), True)

    @property
    def table(self) -> StatusTable:
        return self.query_one("#feed", StatusTable)

    # --- data --------------------------------------------------------------------------

    def refresh_data(self, changed: set[str], alerts_changed: bool) -> None:
        if not self.is_mounted:
            return
        now = self.cw.clock()
        if alerts_changed:
            self._alerts = {a.id: a for a in self.rows(now)}
            alerts = self._alerts
            self.table.sync(list(alerts), lambda key: alert_row(alerts[key], now), list(alerts))
        else:
            alerts = self._alerts
            self.table.refresh_visible(lambda key: alert_row(alerts[key], now))
        self._update_bar()

    def rows(self, now: float) -> list[Alert]:
        out = []
        for alert in self.cw.alerts.ordered():
            resolved_at = alert.resolved_at or alert.updated
            if (
                not self.history
                and alert.state is AlertState.RESOLVED
                and now - resolved_at > RECENT_RESOLVED_S
            ):
                continue
            if self.severity is not None and alert.severity is not self.severity:
                continue
            if self.query_text and not match_alert(self.query_text, alert):
                continue
            out.append(alert)
        return out

    def _update_bar(self) -> None:
        ordered = self.cw.alerts.ordered()
        firing = [a for a in ordered if a.state is AlertState.FIRING]
        critical = sum(1 for a in firing if a.severity is Severity.CRITICAL)
        acked = sum(1 for a in ordered if a.state is AlertState.ACKNOWLEDGED)
        parts: list[tuple[str, str] | str] = [
            (f"{len(firing)} firing", "$text-error bold" if firing else "$text-success"),
        ]
        if critical:
            parts += [" · ", (f"{critical} critical", "$text-error")]
        parts += [" · ", (f"{acked} acknowledged", "$text-muted")]
        self._set_text("#counts", Content.assemble(*parts))
        bits = ["history" if self.history else "live"]
        if self.history_loading:
            bits.append("loading…")
        if self.severity is not None:
            bits.append(f"{self.severity.value} only")
        if self.query_text:
            bits.append(f"filter “{self.query_text.text}”")
        bits.append(f"{len(self._alerts)} shown")
        if self.cw.link_notice:
            bits.insert(0, f"⚠ {self.cw.link_notice}")
        self._set_text("#view", " · ".join(bits))

    def _changed_view(self) -> None:
        self.refresh_data(set(), True)

    # --- actions -----------------------------------------------------------------------

    def selected(self) -> Alert | None:
        key = self.table.selected_key
        return self.cw.alerts.get(key) if key else None

    def action_ack(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        if alert.state is not AlertState.FIRING:
            self.notify(f"already {fmt.alert_state_word(alert)}", severity="warning")
            return
        ask_ack(self, alert)

    def action_silence(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        state = self.cw.fleet.states.get(alert.camera)
        ask_silence(self, alert.camera, alert.site, state.tags if state else ())

    def action_severity(self) -> None:
        i = SEVERITY_FILTERS.index(self.severity)
        self.severity = SEVERITY_FILTERS[(i + 1) % len(SEVERITY_FILTERS)]
        self._changed_view()

    def action_history(self) -> None:
        self.history = not self.history
        if self.history:
            self.history_loading = True
            self.cw.load_history(self._history_loaded)
        self._changed_view()

    def _history_loaded(self) -> None:
        self.history_loading = False
        self._changed_view()

    def action_back(self) -> None:
        if self.clear_filter():
            self._focus_main()
            self._changed_view()
            return
        self.app.switch_mode("fleet")

    def on_status_table_row_selected(self, event: StatusTable.RowSelected) -> None:
        alert = self.cw.alerts.get(event.key)
        if alert is not None:
            self.cw.open_camera(alert.camera)
