"""A live text summary of the fleet for terminals without the TUI, logs and
`--headless`: one line per status change or alert, and a count line every
`interval` seconds, and one when the fleet becomes overloaded or recovers.
Plain text, no colour: it must read well in a log file."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from .alerts.model import AlertEvent
from .bus import Bus
from .fleethealth import ON_SCHEDULE, FleetHealth
from .redact import redact_text
from .state import CameraState, Status, StatusChanged

ORDER = [s.value for s in Status]


def count_line(states: Iterable[CameraState]) -> str:
    """`16 cameras: 13 live · 2 stalled · 1 offline` (failures after live)."""
    states = list(states)
    counts = Counter(s.status.value for s in states)
    warn = sum(1 for s in states if s.status is Status.LIVE and s.active_conditions())
    parts = [f"{counts[k]} {k}" for k in ORDER if counts.get(k)]
    if warn:
        parts.append(f"{warn} with image problems")
    return f"{len(states)} cameras: " + " · ".join(parts)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def fleet_line(health: FleetHealth, was_overloaded: bool) -> str | None:
    """A line when the overload flag changes, else None: FleetHealth arrives
    every few seconds and an unchanged one is no news for a log."""
    if health.overloaded == was_overloaded:
        return None
    if health.overloaded:
        return f"{_clock(health.at)} fleet overloaded: {health.why}"
    return f"{_clock(health.at)} fleet no longer overloaded: {ON_SCHEDULE}"


def event_line(message: object, was_overloaded: bool = False) -> str | None:
    """The line for a bus message, None for one that is not news. was_overloaded:
    the flag of the previous FleetHealth (live_summary keeps it)."""
    if isinstance(message, FleetHealth):
        return fleet_line(message, was_overloaded)
    if isinstance(message, StatusChanged):
        return (
            f"{_clock(message.at)} {message.camera}: {message.old.value} → {message.new.value}"
            f" ({message.reason})"
        )
    if isinstance(message, AlertEvent):
        a = message.alert
        tag = "" if not a.silenced else " [silenced]"
        return (
            f"{_clock(message.at)} ALERT {message.kind} {a.severity.value} {a.camera} "
            f"{a.rule}: {a.reason}{tag}"
        )
    return None


async def live_summary(
    bus: Bus, stop: asyncio.Event, out: TextIO = sys.stdout, interval: float = 10.0
) -> None:
    sub = bus.subscribe(4096)
    next_count = time.monotonic() + min(interval, 3.0)
    overloaded = False
    try:
        while not stop.is_set():
            for message in sub.get_nowait():
                line = event_line(message, overloaded)
                if isinstance(message, FleetHealth):
                    overloaded = message.overloaded
                if line:
                    print(redact_text(line), file=out, flush=True)
            if time.monotonic() >= next_count:
                next_count = time.monotonic() + interval
                states = bus.states().values()
                print(f"{_clock(time.time())} {count_line(states)}", file=out, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        unsubscribe = getattr(bus, "unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(sub)
