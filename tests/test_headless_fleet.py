"""The headless live summary says when the fleet becomes overloaded and when it
recovers, once each, however often FleetHealth arrives (a real LocalBus)."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import replace

from conftest import CALM_FLEET, OVERLOAD_REASON

from camwatch.bus import LocalBus
from camwatch.headless import event_line, fleet_line, live_summary
from camwatch.state import Status, StatusChanged

AT = 1_700_000_000.0
REASON = OVERLOAD_REASON
CALM = replace(CALM_FLEET, at=AT)
BUSY = replace(CALM, overloaded=True, reason=REASON, sample_interval_s=6.2, decode_cpu_pct=99.0)


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def test_only_a_change_of_the_overload_flag_makes_a_line() -> None:
    assert fleet_line(CALM, was_overloaded=False) is None
    assert fleet_line(BUSY, was_overloaded=True) is None
    assert fleet_line(BUSY, was_overloaded=False) == f"{clock(AT)} fleet overloaded: {REASON}"
    assert fleet_line(CALM, was_overloaded=True) == (
        f"{clock(AT)} fleet no longer overloaded: every camera sampled on schedule"
    )
    # A merge of shards may know the overload but not the intervals: still said.
    assert "fleet overloaded: cameras sampled less often" in str(
        fleet_line(replace(BUSY, reason=""), was_overloaded=False)
    )
    assert event_line(BUSY, was_overloaded=False) == fleet_line(BUSY, False)


async def test_live_summary_prints_overload_and_recovery_once_each() -> None:
    bus = LocalBus()
    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(live_summary(bus, stop, out, interval=3600.0))
    try:
        await asyncio.sleep(0)  # let it subscribe
        t = AT
        for health in (CALM, CALM, BUSY, BUSY, BUSY, CALM, CALM, BUSY):
            t += 5.0
            bus.publish(replace(health, at=t))
        bus.publish(StatusChanged("gate", Status.LIVE, Status.STALLED, "no packets", t))
        async with asyncio.timeout(5):
            while "gate" not in out.getvalue():  # noqa: ASYNC110 - live_summary polls too
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    # The count line (due 3 s after start) may come on a loaded machine: not ours.
    lines = [line for line in out.getvalue().splitlines() if " cameras: " not in line]
    assert lines == [
        f"{clock(AT + 15)} fleet overloaded: {REASON}",
        f"{clock(AT + 30)} fleet no longer overloaded: every camera sampled on schedule",
        f"{clock(AT + 40)} fleet overloaded: {REASON}",
        f"{clock(AT + 40)} gate: live → stalled (no packets)",
    ]
