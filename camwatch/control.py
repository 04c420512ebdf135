"""The actions a front end may ask of the core, and an in-memory implementation.

Front ends (the TUI, later a remote client of the daemon) read states and
events from the bus and act only through `Control`. The real implementation
wires these to the rule engine, the store and the camera fleet; `MemoryControl`
keeps everything in memory for tests and demos and publishes the same
`AlertEvent`s on the bus a real core would.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from .alerts.model import Alert, AlertEvent, AlertState, Silence
from .bus import Bus
from .state import CameraState, FrameSample

TARGET_KINDS = ("camera", "site", "tag")
MAX_SILENCE_S = 30 * 86400.0
MAX_COMMENT = 500


class ControlError(Exception):
    """An action that cannot be done, with a message fit for the user."""


class Control(Protocol):
    async def acknowledge(self, alert_id: str, user: str, comment: str) -> Alert:
        """Acknowledge a firing alert; returns the updated alert. ControlError if unknown."""
        ...

    async def silence(
        self, target_kind: str, target: str, duration_s: float, reason: str, user: str
    ) -> Silence:
        """Silence notifications for a camera, site or tag from now for duration_s."""
        ...

    async def capture_baseline(self, camera: str, user: str) -> None:
        """Make the camera's current image the reference for focus and camera-moved."""
        ...

    def thumbnail(self, camera: str) -> FrameSample | None:
        """The latest small privacy-masked RGB frame, or None. Must return at once
        (a cached value): the TUI calls it from its event loop."""
        ...

    def record_view(self, camera: str, user: str) -> None:
        """Audit: user has just been shown camera's image. Must not block."""
        ...

    async def active_alerts(self) -> list[Alert]:
        """Alerts not yet resolved (firing or acknowledged)."""
        ...

    async def alert_history(self, limit: int = 200) -> list[Alert]:
        """The most recent alerts of any state, newest raised first."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    user: str
    action: str  # "ack" | "silence" | "baseline" | "view"
    target: str
    detail: str = ""


class MemoryControl:
    """Control kept in memory: alerts, silences, baselines, thumbnails and an audit list."""

    def __init__(
        self,
        bus: Bus,
        *,
        clock: Callable[[], float] = time.time,
        max_alerts: int = 5000,
        max_audit: int = 10000,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._alerts: dict[str, Alert] = {}
        self._max_alerts = max_alerts
        self.silences: list[Silence] = []
        self.baselines: list[tuple[str, str, float]] = []  # (camera, user, at)
        self.audit: deque[AuditEntry] = deque(maxlen=max_audit)
        self.thumbnail_calls = 0
        self._thumbs: dict[str, FrameSample] = {}

    # --- feeding it (simulator, tests, demo) ---------------------------------

    def raise_alert(self, alert: Alert) -> None:
        self._store(alert)
        self._bus.publish(AlertEvent("raised", alert, self._clock()))

    def resolve_alert(self, alert_id: str) -> Alert:
        alert = self._get(alert_id)
        now = self._clock()
        done = replace(alert, state=AlertState.RESOLVED, resolved_at=now, updated=now)
        self._store(done)
        self._bus.publish(AlertEvent("resolved", done, now))
        return done

    def set_thumbnail(self, sample: FrameSample) -> None:
        self._thumbs[sample.camera] = sample

    # --- Control ---------------------------------------------------------------

    async def acknowledge(self, alert_id: str, user: str, comment: str) -> Alert:
        alert = self._get(alert_id)
        if alert.state is AlertState.RESOLVED:
            raise ControlError(f"alert {alert_id} is already resolved")
        now = self._clock()
        acked = replace(
            alert,
            state=AlertState.ACKNOWLEDGED,
            acked_by=user,
            acked_at=now,
            ack_comment=comment[:MAX_COMMENT],
            updated=now,
        )
        self._store(acked)
        self.audit.append(AuditEntry(now, user, "ack", alert_id, comment[:MAX_COMMENT]))
        self._bus.publish(AlertEvent("acknowledged", acked, now))
        return acked

    async def silence(
        self, target_kind: str, target: str, duration_s: float, reason: str, user: str
    ) -> Silence:
        if target_kind not in TARGET_KINDS:
            raise ControlError(f"cannot silence a {target_kind!r}: use {', '.join(TARGET_KINDS)}")
        if not target:
            raise ControlError("silence needs a target")
        if not 0 < duration_s <= MAX_SILENCE_S:
            raise ControlError("silence duration must be between 1 second and 30 days")
        now = self._clock()
        silence = Silence(
            len(self.silences) + 1, target_kind, target, now, now + duration_s, reason, user
        )
        self.silences.append(silence)
        self.audit.append(AuditEntry(now, user, "silence", f"{target_kind}:{target}", reason))
        states = self._bus.states()
        for alert in list(self._alerts.values()):
            if alert.state is not AlertState.RESOLVED and _matches(silence, alert, states):
                muted = replace(alert, silenced=True, updated=now)
                self._store(muted)
                self._bus.publish(AlertEvent("silenced", muted, now))
        return silence

    async def capture_baseline(self, camera: str, user: str) -> None:
        if camera not in self._bus.states():
            raise ControlError(f"unknown camera {camera!r}")
        now = self._clock()
        self.baselines.append((camera, user, now))
        self.audit.append(AuditEntry(now, user, "baseline", camera))

    def thumbnail(self, camera: str) -> FrameSample | None:
        self.thumbnail_calls += 1
        return self._thumbs.get(camera)

    def record_view(self, camera: str, user: str) -> None:
        self.audit.append(AuditEntry(self._clock(), user, "view", camera))

    async def active_alerts(self) -> list[Alert]:
        live = [a for a in self._alerts.values() if a.state is not AlertState.RESOLVED]
        return sorted(live, key=lambda a: a.raised, reverse=True)

    async def alert_history(self, limit: int = 200) -> list[Alert]:
        return sorted(self._alerts.values(), key=lambda a: a.raised, reverse=True)[:limit]

    # --- internals -------------------------------------------------------------

    def _get(self, alert_id: str) -> Alert:
        try:
            return self._alerts[alert_id]
        except KeyError:
            raise ControlError(f"unknown alert {alert_id!r}") from None

    def _store(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert
        while len(self._alerts) > self._max_alerts:
            del self._alerts[next(iter(self._alerts))]

    def views(self) -> list[AuditEntry]:
        return [e for e in self.audit if e.action == "view"]


def _matches(silence: Silence, alert: Alert, states: dict[str, CameraState]) -> bool:
    if silence.target_kind == "camera":
        return alert.camera == silence.target
    if silence.target_kind == "site":
        return alert.site == silence.target
    state = states.get(alert.camera)  # tags live on the camera, not on the alert
    return state is not None and silence.target in state.tags
