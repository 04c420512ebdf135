"""What the TUI knows: the latest state per camera, a short metric history, the alerts,
the fleet's own health.

Filled from the bus by the app (coalesced, at most twice a second); screens
only read it. Every collection here is bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from camwatch.alerts.model import Alert, AlertEvent, AlertState
from camwatch.alerts.rules import STATS_RULES
from camwatch.fleethealth import FleetHealth
from camwatch.state import CameraState, Severity, StatusChanged

from . import format as fmt


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    fps: float
    bitrate: float
    loss: float
    motion: float | None
    sharpness: float | None


METRICS = ("fps", "bitrate", "loss", "motion", "sharpness")


class FleetModel:
    """Latest CameraState per camera and the last `history` samples of each."""

    def __init__(self, history: int = 60, events: int = 20) -> None:
        self.states: dict[str, CameraState] = {}
        self.history: dict[str, deque[Sample]] = {}
        self.events: dict[str, deque[StatusChanged]] = {}
        self._events_len = events
        self._history_len = history
        self._looks: dict[str, tuple[CameraState, fmt.Look]] = {}
        # Per camera, (rule, severity) of its open stream-rule alerts, sorted.
        self.rule_alerts: dict[str, tuple[tuple[str, Severity], ...]] = {}
        self.version = 0
        self.health: FleetHealth | None = None  # the latest the core published, if any

    def note_health(self, health: FleetHealth) -> bool | None:
        """Keep the latest FleetHealth; returns the new overload flag when it flipped
        (into overload, or out of it), else None. The first report flips only into overload."""
        was = self.health is not None and self.health.overloaded
        self.health = health
        return health.overloaded if health.overloaded != was else None

    def look(self, state: CameraState) -> fmt.Look:
        """fmt.look of the state and the camera's open stream-rule alerts, kept per camera
        until either changes: sorting, filtering and counting 1000 cameras on every key
        press asks for it thousands of times."""
        hit = self._looks.get(state.name)
        if hit is not None and hit[0] is state:
            return hit[1]
        look = fmt.look(state, self.rule_alerts.get(state.name, ()))
        self._looks[state.name] = (state, look)
        return look

    def why(self, state: CameraState) -> str:
        return fmt.why(state, self.rule_alerts.get(state.name, ()))

    def note_alerts(self, alerts: Iterable[Alert]) -> set[str]:
        """Take the open alerts of the statistics rules (packet_loss, jitter, low_fps...),
        which no condition of the state shows; returns the cameras whose set changed."""
        fresh: dict[str, list[tuple[str, Severity]]] = {}
        for a in alerts:
            if a.rule in STATS_RULES and a.state is not AlertState.RESOLVED:
                fresh.setdefault(a.camera, []).append((a.rule, a.severity))
        now = {camera: tuple(sorted(pairs)) for camera, pairs in fresh.items()}
        changed = {
            camera
            for camera in now.keys() | self.rule_alerts.keys()
            if now.get(camera) != self.rule_alerts.get(camera)
        }
        for camera in changed:
            self._looks.pop(camera, None)
        if changed:
            self.rule_alerts = now
            self.version += 1
        return changed

    def apply(self, states: Iterable[CameraState]) -> set[str]:
        """Take new states (latest wins); returns the names whose state changed."""
        changed: set[str] = set()
        for state in states:
            if _same(self.states.get(state.name), state):
                continue
            self.states[state.name] = state
            self._record(state)
            changed.add(state.name)
        if changed:
            self.version += 1
        return changed

    def replace_all(self, states: dict[str, CameraState]) -> set[str]:
        """Resynchronise from a full snapshot (after the mailbox overflowed)."""
        gone = set(self.states) - set(states)
        for name in gone:
            del self.states[name]
            self._looks.pop(name, None)
            self.history.pop(name, None)
            self.events.pop(name, None)
        changed = self.apply(states.values()) | gone
        if gone:
            self.version += 1
        return changed

    def add_event(self, event: StatusChanged) -> None:
        log = self.events.get(event.camera)
        if log is None:
            log = self.events[event.camera] = deque(maxlen=self._events_len)
        log.append(event)

    def series(self, name: str, metric: str) -> list[float]:
        values = (getattr(s, metric) for s in self.history.get(name, ()))
        return [v for v in values if v is not None]

    def _record(self, state: CameraState) -> None:
        hist = self.history.get(state.name)
        if hist is None:
            hist = self.history[state.name] = deque(maxlen=self._history_len)
        st = state.stats
        hist.append(
            Sample(
                state.updated,
                st.fps,
                st.bitrate_bps,
                st.loss_ratio,
                fmt.motion(state),
                fmt.sharpness(state),
            )
        )


def _same(old: CameraState | None, new: CameraState) -> bool:
    if old is None:
        return False
    try:
        return old is new or old == new
    except ValueError:  # an analysis result holds numpy arrays, which do not compare to a bool
        return False


_STATE_ORDER = {AlertState.FIRING: 0, AlertState.ACKNOWLEDGED: 1, AlertState.RESOLVED: 2}


class AlertBook:
    """Alerts by id, newest kept when over the bound."""

    def __init__(self, limit: int = 1000) -> None:
        self._alerts: dict[str, Alert] = {}
        self._limit = limit
        self.version = 0

    def __len__(self) -> int:
        return len(self._alerts)

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def apply(self, event: AlertEvent) -> None:
        self.upsert(event.alert)

    def upsert(self, alert: Alert) -> None:
        old = self._alerts.get(alert.id)
        if old is not None and old.updated > alert.updated:
            return  # an older copy (history arriving after a live event)
        self._alerts[alert.id] = alert
        self.version += 1
        if len(self._alerts) > self._limit:
            oldest = min(self._alerts.values(), key=lambda a: a.updated)
            del self._alerts[oldest.id]

    def ordered(self) -> list[Alert]:
        """Firing first, then acknowledged, then resolved; critical before warning; newest first."""
        return sorted(
            self._alerts.values(),
            key=lambda a: (_STATE_ORDER[a.state], fmt.severity_look(a.severity).rank, -a.raised),
        )

    def values(self) -> list[Alert]:
        """Every alert kept, in no particular order."""
        return list(self._alerts.values())

    def for_camera(self, camera: str) -> list[Alert]:
        return [a for a in self.ordered() if a.camera == camera]

    def firing(self) -> list[Alert]:
        return [a for a in self.ordered() if a.state is AlertState.FIRING]
