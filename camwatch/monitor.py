"""The glue a daemon runs: bus -> rule engine -> bus, store and notifications.

    monitor = Monitor(bus, engine, store, notifier)
    await monitor.start()        # restores open alerts and silences, starts its tasks
    monitor.ack(alert_id, comment="on it")     # user actions, from any front end
    await monitor.silence(Silence(...)); await monitor.unsilence(id)   # both published
    monitor.audit("thumbnail_view", "camera:gate-1")
    monitor.reload(rules_config, cameras)      # SIGHUP
    await monitor.stop()         # drains notifications, flushes the store (does not close it)

Every CameraState on the bus goes through the engine; the resulting
AlertEvents are published back on the bus (for TUIs), queued for the store
and filed with the notifier. None of these steps waits on I/O: the store and
the notifier buffer (bounded) and write from their own tasks, so a slow disk
or a dead webhook never delays monitoring. A tick task advances the engine's
raise/clear timers and the per-minute health rollup when states are sparse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .alerts.model import AlertEvent, Silence
from .alerts.notify import Notifier
from .alerts.rules import RuleEngine, current_user
from .bus import Bus, Subscription
from .state import CameraState, Status
from .store.db import Store
from .store.rollup import MinuteRollup

log = logging.getLogger("camwatch.monitor")


@dataclass
class MonitorStats:
    states: int = 0
    events: int = 0
    errors: int = 0  # states or ticks the engine failed on (logged, skipped)
    dropped_states: int = 0  # lost because the monitor's subscription overflowed


class Monitor:
    def __init__(
        self,
        bus: Bus,
        engine: RuleEngine,
        store: Store | None = None,
        notifier: Notifier | None = None,
        *,
        tick_interval: float = 1.0,
        heartbeat_interval: float = 10.0,
        retention_interval: float = 3600.0,
        queue_size: int = 8192,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.store = store
        self.notifier = notifier
        self.tick_interval = tick_interval
        self.heartbeat_interval = heartbeat_interval
        self.retention_interval = retention_interval
        self.stats = MonitorStats()
        self._queue_size = queue_size
        self._clock = clock
        self._rollup = MinuteRollup()
        self._status: dict[str, tuple[Status, float]] = {}  # camera -> (status, interval start)
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._retention: asyncio.Task[None] | None = None
        self._started_at = 0.0

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._sub is not None:
            return
        self._started_at = self._clock()
        if self.store is not None:
            alerts = await self.store.open_alerts()
            silences = await self.store.silences(active_at=self._started_at)
            future = [s for s in await self.store.silences() if s.start > self._started_at]
            self.engine.restore(alerts, [*silences, *future])
        if self.notifier is not None:
            await self.notifier.start()
        self._sub = self.bus.subscribe(self._queue_size)
        self._tasks = [
            asyncio.create_task(self._consume(self._sub), name="monitor-consume"),
            asyncio.create_task(self._tick_loop(), name="monitor-tick"),
        ]

    async def stop(self) -> None:
        if self._sub is None:
            return
        unsubscribe = getattr(self.bus, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._sub)
        else:
            self._sub.close()
        for task in [*self._tasks, *([self._retention] if self._retention else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._retention] if self._retention else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._retention = [], None
        self._drain(self._sub)
        self._sub = None
        now = self._clock()
        if self.notifier is not None:
            await self.notifier.stop()
        if self.store is not None:
            self.store.put_health(self._rollup.flush(now))
            self.store.close_intervals(now)
            self._status.clear()
            await self.store.flush()

    async def __aenter__(self) -> Monitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the loop ----------------------------------------------------------------------

    async def _consume(self, sub: Subscription) -> None:
        async for message in sub:
            try:
                self._handle(message, sub)
            except Exception:  # last line of defence: the loop itself must survive
                self.stats.errors += 1
                log.exception("monitor failed on %r", type(message).__name__)

    def _drain(self, sub: Subscription) -> None:
        """States already queued when stopping are still judged and recorded."""
        for message in sub.get_nowait():
            self._handle(message, sub)

    def _handle(self, message: object, sub: Subscription) -> None:
        if not isinstance(message, CameraState):
            return  # our own AlertEvents and other events
        self.stats.dropped_states = sub.dropped
        self.stats.states += 1
        now = self._clock()
        try:
            events = self.engine.evaluate(message, now)
        except Exception:  # one bad state must never stop monitoring
            self.stats.errors += 1
            log.exception("rule engine failed on a state of %s", message.name)
            events = []
        self._emit(events)
        if self.store is not None:
            try:
                self._record(message, now)
            except Exception:
                self.stats.errors += 1
                log.exception("cannot record a state of %s", message.name)

    def _record(self, state: CameraState, now: float) -> None:
        assert self.store is not None
        previous = self._status.get(state.name)
        if previous is None:
            self.store.put_camera(state.name, state.site, state.tags, state.url, at=now)
        if previous is None or previous[0] is not state.status:
            floor = previous[1] if previous else self._started_at
            start = min(now, max(state.since, floor))
            self.store.put_status(state.name, state.status, state.reason, start)
            self._status[state.name] = (state.status, start)
        self.store.put_health(self._rollup.add(state, now))

    async def _tick_loop(self) -> None:
        last_beat = last_retention = self._clock()
        while True:
            await asyncio.sleep(self.tick_interval)
            now = self._clock()
            try:
                self._emit(self.engine.tick(now))
            except Exception:
                self.stats.errors += 1
                log.exception("rule engine tick failed")
            if self.store is None:
                continue
            self.store.put_health(self._rollup.tick(now))
            if now - last_beat >= self.heartbeat_interval:
                last_beat = now
                self.store.put_seen(list(self._status), now)
            if now - last_retention >= self.retention_interval and self._retention is None:
                last_retention = now
                self._retention = asyncio.create_task(self._enforce_retention(now))

    async def _enforce_retention(self, now: float) -> None:
        assert self.store is not None
        try:
            deleted = await self.store.enforce_retention(now)
            if any(deleted.values()):
                log.info("history retention: deleted %s", deleted)
        except Exception as exc:
            log.error("history retention failed: %s", exc)
        finally:
            self._retention = None

    def _emit(self, events: Iterable[AlertEvent]) -> None:
        for event in events:
            self.stats.events += 1
            self.bus.publish(event)
            if self.store is not None:
                self.store.put_alert(event)
            if self.notifier is not None:
                self.notifier.submit(event)

    # -- user actions --------------------------------------------------------------------

    def ack(self, alert_id: str, user: str | None = None, comment: str = "") -> AlertEvent:
        """Acknowledge an open alert; raises UnknownAlertError if it is not open."""
        user = user or current_user()
        event = self.engine.ack(alert_id, user, comment, now=self._clock())
        self._emit([event])
        self.audit("ack", f"alert:{alert_id}", comment, user)
        return event

    async def silence(self, silence: Silence) -> Silence:
        """Add a silence or maintenance window (recorded, audited); returns it with its id."""
        if not silence.author:
            silence = replace(silence, author=current_user())
        if silence.end <= silence.start:
            raise ValueError("a silence must end after it starts")
        if self.store is not None:
            silence = await self.store.add_silence(silence, at=self._clock())
        silence, events = self.engine.silence(silence, now=self._clock())
        self.bus.publish(silence)  # other front ends show it at once
        self._emit(events)
        return silence

    async def unsilence(self, silence_id: int, user: str | None = None) -> bool:
        user = user or current_user()
        now = self._clock()
        known = {s.id: s for s in self.engine.silences()}.get(silence_id)
        try:
            events = self.engine.unsilence(silence_id, now=now)
        except KeyError:
            events = None
        if known is not None:  # published with its new end: front ends drop it
            self.bus.publish(replace(known, end=max(known.start, min(known.end, now))))
        removed = False
        if self.store is not None:
            removed = await self.store.remove_silence(silence_id, user, at=self._clock())
        if events is not None:
            self._emit(events)
        return removed or events is not None

    def audit(
        self, action: str, target: str = "", detail: str = "", user: str | None = None
    ) -> None:
        """Record an action in the append-only audit log (baseline, thumbnail_view...)."""
        if self.store is not None:
            self.store.put_audit(action, target, detail, user or current_user(), self._clock())

    def reload(
        self,
        rules_config: Mapping[str, Any] | None,
        cameras: Iterable[Any] | Mapping[str, Any] | None,
        user: str | None = None,
    ) -> None:
        """Apply a reloaded configuration (SIGHUP); raises RuleConfigError if invalid."""
        now = self._clock()
        events = self.engine.update_config(rules_config, cameras, now)
        self._emit(events)
        objs = cameras.values() if isinstance(cameras, Mapping) else (cameras or ())
        names = {str(c.name) for c in objs}
        for name in set(self._status) - names if names else ():
            # A removed camera's history ends here: `stopped` time is not observed time.
            if self.store is not None:
                self.store.put_status(name, Status.STOPPED, "removed from the inventory", now)
            self._status.pop(name, None)
            self._rollup.forget(name)
        self.audit("config_reload", "", "", user)
