"""The ingest core against the simulator: faults the GStreamer server cannot
produce (stall with the session up, packet loss, mid-stream disconnects), and
one bad camera never disturbing the others."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
from simfixtures import camera, scenario

from camwatch.bus import LocalBus
from camwatch.camera import CameraMonitor, CameraTarget, MonitorSettings
from camwatch.decode import DecodePool
from camwatch.sim import SimServer
from camwatch.state import CameraState, Status

FAST = MonitorSettings(
    stall_timeout=2.0, connect_timeout=2.0, reconnect_after_stall=30.0,
    backoff_initial=0.3, backoff_max=1.0, publish_interval=0.5, sample_interval=0.5,
)  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    cams = [
        camera("ok"),
        camera("stall"),
        camera("lossy"),
        camera("drop"),
        camera("locked", user="u", password="pw"),
        camera("lateloss"),
    ]
    faults = [
        ("stall", "stall", 3.0, 7.0, {}),
        ("lossy", "packet_loss", 0.0, None, {"percent": 10}),
        ("drop", "disconnect", 4.0, 5.0, {"after": 100}),
        ("lateloss", "packet_loss", 8.0, None, {"percent": 10}),
    ]
    async with SimServer(scenario(cams, faults)) as server:
        yield server


class Watch:
    def __init__(
        self,
        server: SimServer,
        names: list[str],
        settings: MonitorSettings = FAST,
        **target: object,
    ) -> None:
        self.bus, self.pool = LocalBus(), DecodePool(2)
        self.monitors = {
            n: CameraMonitor(
                CameraTarget(n, server.url(n), server.url(n), **target),
                self.bus,
                self.pool,
                settings,
            )
            for n in names
        }
        self.tasks = [asyncio.create_task(m.run()) for m in self.monitors.values()]

    async def close(self) -> None:
        for m in self.monitors.values():
            m.stop()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.pool.shutdown()

    async def until(self, name: str, wanted: set[Status], within: float) -> float:
        m, t0 = self.monitors[name], time.monotonic()
        while m.state.status not in wanted:
            if time.monotonic() - t0 > within:
                raise AssertionError(f"{name} still {m.state.status}: {m.state.reason}")
            await asyncio.sleep(0.05)
        return time.monotonic() - t0


async def test_stall_with_session_up_then_recovery(sim: SimServer) -> None:
    w = Watch(sim, ["ok", "stall"])
    try:
        await w.until("stall", {Status.LIVE}, 5)
        await w.until("stall", {Status.STALLED}, 3 + FAST.stall_timeout + 1.5)
        stalled = w.monitors["stall"].state
        assert "RTSP session is up" in stalled.reason
        assert stalled.since >= time.time() - 3
        # media comes back on the same session: live again, no reconnect needed
        await w.until("stall", {Status.LIVE}, 7)
        assert w.monitors["stall"].state.reconnects == 0
        assert w.monitors["ok"].state.status is Status.LIVE
    finally:
        await w.close()


async def test_packet_loss_is_measured(sim: SimServer) -> None:
    w = Watch(sim, ["lossy"])
    try:
        await w.until("lossy", {Status.LIVE}, 5)
        await asyncio.sleep(5)
        w.monitors["lossy"].refresh()
        st = w.monitors["lossy"].state.stats
        assert st.packets_lost > 0
        assert 0.04 <= st.loss_ratio <= 0.18, st
    finally:
        await w.close()


async def test_a_quiet_camera_publishes_at_once_when_its_figures_move(sim: SimServer) -> None:
    # Healthy cameras republish unchanged figures only every 60 s here, yet the
    # loss that starts 8 s into the scenario must reach the bus within seconds.
    quiet = dataclasses.replace(FAST, publish_interval=1.0, quiet_publish_interval=60.0)
    w = Watch(sim, ["lateloss"], quiet)
    sub = w.bus.subscribe()
    try:
        await w.until("lateloss", {Status.LIVE}, 5)
        lossy_at = None
        while lossy_at is None:
            msg = await asyncio.wait_for(sub.get(), 15)
            if isinstance(msg, CameraState) and msg.stats.loss_ratio > 0.02:
                lossy_at = sim.elapsed()
        assert 8.0 <= lossy_at <= 8.0 + 4.0, lossy_at
    finally:
        sub.close()
        await w.close()


async def test_disconnect_mid_stream_reconnects(sim: SimServer) -> None:
    w = Watch(sim, ["drop", "ok"])
    try:
        await w.until("drop", {Status.LIVE}, 5)
        await w.until("drop", {Status.OFFLINE, Status.STALLED}, 6)
        await w.until("drop", {Status.LIVE}, 8)
        assert w.monitors["drop"].state.reconnects >= 1
        assert w.monitors["ok"].state.reconnects == 0  # one camera's trouble stays its own
    finally:
        await w.close()


async def test_auth_failure_of_one_camera_leaves_the_others_live(sim: SimServer) -> None:
    w = Watch(sim, ["ok", "locked"])
    try:
        await w.until("locked", {Status.AUTH_FAILED}, 5)
        await w.until("ok", {Status.LIVE}, 5)
        await asyncio.sleep(2.0)
        w.monitors["ok"].refresh()
        assert w.monitors["ok"].state.decode.keyframes_decoded > 0
        assert w.monitors["locked"].state.status is Status.AUTH_FAILED
    finally:
        await w.close()


async def test_digest_against_the_simulator(sim: SimServer) -> None:
    w = Watch(sim, ["locked"], username="u", password="pw")
    try:
        await w.until("locked", {Status.LIVE}, 5)
    finally:
        await w.close()


async def test_garbage_rtp_is_counted_not_fatal(sim: SimServer) -> None:
    w = Watch(sim, ["ok"])
    try:
        await w.until("ok", {Status.LIVE}, 5)
        pipe = w.monitors["ok"]._pipeline
        assert pipe is not None
        for junk in (b"", b"\x00", b"\x80" * 3, b"\xff" * 40, bytes(range(256))):
            pipe.on_rtp(junk)
        pipe.on_rtcp(b"\x81\xc8garbage")
        before = pipe.stats.snapshot(time.monotonic()).frames
        await asyncio.sleep(1.5)
        assert pipe.rtp_errors >= 3
        assert pipe.stats.snapshot(time.monotonic()).frames > before
        assert w.monitors["ok"].state.status is Status.LIVE
    finally:
        await w.close()
