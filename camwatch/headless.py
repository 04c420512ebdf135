"""A live text summary of the fleet for terminals without the TUI, logs and
`--headless`: one line per status change or alert, and a count line every
`interval` seconds. Plain text, no colour: it must read well in a log file."""

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


def event_line(message: object) -> str | None:
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
    try:
        while not stop.is_set():
            for message in sub.get_nowait():
                line = event_line(message)
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
