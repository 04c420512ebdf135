"""Timed reads (camwatch/rtsp/poller.py): the shared timer's schedule, the
framer's strict mode, kernel arrival times, and monitors reading real
simulator sessions on the timer."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import socket
import struct
import time

import pytest
from simfixtures import camera, scenario, until

from camwatch.bus import LocalBus
from camwatch.camera import CameraMonitor, CameraTarget, MonitorSettings
from camwatch.decode import DecodePool
from camwatch.rtsp.client import _SO_TIMESTAMPNS, _arrival
from camwatch.rtsp.framing import InterleavedFramer
from camwatch.rtsp.poller import DEFAULT_TICKS, LARGE_READ, TICK, Poller, poller_for
from camwatch.sim import SimServer
from camwatch.state import Status


class Reader:
    """A connection as the poller sees it: records each read."""

    def __init__(self, got: int = 100, fail: BaseException | None = None) -> None:
        self.got, self.fail = got, fail
        self.polls: list[float] = []
        self.failed: list[BaseException] = []

    def poll(self, offset: float) -> int:
        self.polls.append(time.monotonic())
        if self.fail is not None:
            raise self.fail
        return self.got

    def poll_failed(self, exc: BaseException) -> None:
        self.failed.append(exc)


def _gaps(polls: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(polls)]


async def test_a_new_connection_is_read_often_then_every_period() -> None:
    poller = Poller()
    quiet, busy = Reader(got=2000), Reader(got=LARGE_READ)
    poller.add(quiet)
    poller.add(busy)
    await asyncio.sleep(2.0)
    gaps = _gaps(quiet.polls)
    period = DEFAULT_TICKS * TICK
    # Small reads lengthen the period, up to its own.
    assert gaps[0] < 2.5 * TICK, gaps
    assert all(period * 0.8 <= g <= period * 1.5 for g in gaps[-3:]), gaps
    # Large reads keep a busy stream at one tick: drained before its socket
    # buffer fills.
    assert all(g < 2.5 * TICK for g in _gaps(busy.polls)[-5:]), _gaps(busy.polls)
    poller.discard(quiet)
    poller.discard(busy)
    await asyncio.sleep(3 * TICK)
    assert len(poller) == 0 and poller._timer is None  # the timer ran out
    reads = len(quiet.polls)
    poller.add(quiet)  # and starts again
    await asyncio.sleep(0.5)
    assert len(quiet.polls) > reads
    poller.discard(quiet)


async def test_each_connection_keeps_its_own_period() -> None:
    poller = Poller()
    slow, fast = Reader(), Reader()
    poller.add(slow, period=0.5)
    poller.add(fast, period=0.1)
    await asyncio.sleep(3.0)
    assert all(0.4 <= g <= 0.7 for g in _gaps(slow.polls)[-2:]), _gaps(slow.polls)
    assert all(0.08 <= g <= 0.16 for g in _gaps(fast.polls)[-5:]), _gaps(fast.polls)
    poller.discard(slow)
    poller.discard(fast)


async def test_a_connection_discarded_and_added_again_is_read_once_per_period() -> None:
    poller = Poller()
    conn = Reader()
    poller.add(conn)
    await asyncio.sleep(0.1)
    poller.discard(conn)
    poller.add(conn)  # its old schedule entries must not read it as well
    await asyncio.sleep(2.0)
    assert all(g >= 0.8 * DEFAULT_TICKS * TICK for g in _gaps(conn.polls)[-3:]), conn.polls
    poller.discard(conn)


class Rude(Reader):
    """Fails, then fails again when told so."""

    def poll_failed(self, exc: BaseException) -> None:
        raise RuntimeError("and again")


class SelfStopping(Reader):
    """Stops its own polling from inside a read that brought data."""

    def __init__(self, poller: Poller) -> None:
        super().__init__()
        self.poller = poller

    def poll(self, offset: float) -> int:
        self.poller.discard(self)
        return super().poll(offset)


async def test_one_failing_connection_is_dropped_and_the_others_still_read() -> None:
    poller = Poller()
    good, bad, done = Reader(), Reader(fail=ValueError("bug")), Reader(got=-1)
    rude = Rude(fail=ValueError("bug"))
    stopping = SelfStopping(poller)
    for r in (good, bad, done, rude, stopping):
        poller.add(r)
    await asyncio.sleep(0.7)
    assert len(bad.polls) == 1 and isinstance(bad.failed[0], ValueError)
    assert len(rude.polls) == 1  # its failing failure handler stopped nothing else
    assert len(done.polls) == 1  # -1: polling stopped, never read again
    assert len(stopping.polls) == 1
    assert len(good.polls) >= 3
    assert len(poller) == 1
    poller.discard(good)


async def test_the_loop_has_one_poller() -> None:
    loop = asyncio.get_running_loop()
    assert poller_for(loop) is poller_for(loop)


# --------------------------------------------------------------------------- framing


def _frames(*payloads: bytes, channel: int = 0) -> bytes:
    return b"".join(b"$" + bytes([channel]) + struct.pack("!H", len(p)) + p for p in payloads)


def test_a_polled_read_names_its_newest_packet_only_when_it_ends_on_a_frame() -> None:
    seen: list = []
    routes = {0: lambda p, newest, at: seen.append((p, newest, at))}
    framer = InterleavedFramer()
    framer.feed_routed(_frames(b"aa", b"bb"), routes, 12.5, strict=True)
    assert seen == [([b"aa", b"bb"], True, 12.5)]
    seen.clear()
    cut = _frames(b"cc", b"dddd")[:-2]  # the read ends inside "dddd": it is newer than "cc"
    framer.feed_routed(cut, routes, 13.0, strict=True)
    assert seen == [([b"cc"], False, 13.0)]
    seen.clear()
    framer.feed_routed(b"dd", routes, 13.1, strict=True)
    assert seen == [([b"dddd"], True, 13.1)]
    seen.clear()
    framer.feed_routed(_frames(b"ee"), routes, None, strict=True)  # no kernel time
    assert seen == [([b"ee"], False, None)]
    seen.clear()
    reply = b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n"
    framer.feed_routed(_frames(b"ff") + reply, routes, 13.5, strict=True)
    assert seen == [([b"ff"], False, 13.5)]  # the reply's bytes are the newest
    seen.clear()
    framer.feed_routed(_frames(b"gg") + _frames(b"x", channel=7), routes, 13.6, strict=True)
    assert seen == [([b"gg"], False, 13.6)]  # so is an unrouted channel's frame
    seen.clear()
    framer.feed_routed(cut, routes)  # a read on readiness: the read's time is the newest's
    assert seen == [([b"cc"], True, None)]


def test_kernel_arrival_times_are_turned_into_monotonic_time_and_checked() -> None:
    offset = time.time() - time.monotonic()
    now = time.monotonic()

    def stamp(wall: float) -> list[tuple[int, int, bytes]]:
        sec = int(wall)
        return [
            (socket.SOL_SOCKET, _SO_TIMESTAMPNS, struct.pack("@qq", sec, int((wall - sec) * 1e9)))
        ]

    at = _arrival(stamp(now - 0.15 + offset), offset, now)
    assert at == pytest.approx(now - 0.15, abs=1e-6)
    assert _arrival([], offset, now) is None
    assert _arrival(stamp(now + 1.0 + offset), offset, now) is None  # in the future
    assert _arrival(stamp(now - 30.0 + offset), offset, now) is None  # clock stepped


# --------------------------------------------------------------------------- sessions

FAST = MonitorSettings(
    stall_timeout=2.0, connect_timeout=2.0, backoff_initial=0.3, backoff_max=1.0,
    publish_interval=0.5, sample_interval=0.5,
)  # fmt: skip


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _watch(sim: SimServer, names: list[str], settings: MonitorSettings) -> tuple:
    bus, pool = LocalBus(), DecodePool(1)
    monitors = {
        n: CameraMonitor(CameraTarget(n, sim.url(n), sim.url(n)), bus, pool, settings)
        for n in names
    }
    tasks = [asyncio.create_task(m.run()) for m in monitors.values()]
    return monitors, tasks, pool


async def _stop(monitors: dict, tasks: list, pool: DecodePool) -> None:
    for m in monitors.values():
        m.stop()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pool.shutdown()


async def test_timed_reads_keep_true_arrival_times_and_see_real_jitter() -> None:
    # Polled every 200 ms, a 10 fps camera's frames come two at a time; stamped
    # with the read's time they would show ~50 ms of frame jitter. The kernel's
    # arrival times keep a steady camera near zero and show a jittery one.
    cams = [camera("steady"), camera("shaky")]
    faults = [("shaky", "jitter", 0.0, None, {"ms": 120.0})]
    fds = _open_fds()
    async with SimServer(scenario(cams, faults)) as sim:
        monitors, tasks, pool = await _watch(sim, ["steady", "shaky"], FAST)
        try:
            live = await until(
                lambda: all(m.state.status is Status.LIVE for m in monitors.values()), 8
            )
            assert live
            assert len(poller_for(asyncio.get_running_loop())) == 2
            await asyncio.sleep(5)
            for m in monitors.values():
                m.refresh()
            steady, shaky = monitors["steady"].state.stats, monitors["shaky"].state.stats
            assert steady.packets_received > 100 and steady.loss_ratio == 0.0
            assert steady.frame_jitter_ms < 8.0, steady
            assert shaky.frame_jitter_ms > 20.0, shaky
            assert 8.0 <= steady.fps <= 12.0, steady
        finally:
            await _stop(monitors, tasks, pool)
    assert len(poller_for(asyncio.get_running_loop())) == 0
    assert _open_fds() <= fds  # our duplicate descriptors are closed


async def test_keepalive_replies_arrive_while_reads_are_timed() -> None:
    # A 10 s session timeout: keepalives every 5 s (the client's floor). Their
    # replies wait for the timer, not for a readable socket.
    async with SimServer(scenario([camera("cam")]), session_timeout=10.0) as sim:
        monitors, tasks, pool = await _watch(sim, ["cam"], FAST)
        try:
            assert await until(lambda: monitors["cam"].state.status is Status.LIVE, 8)
            await asyncio.sleep(12)  # past the timeout: only keepalives kept it
            state = monitors["cam"].state
            assert state.status is Status.LIVE and state.reconnects == 0
            assert sim.stats()["counters"].get("expired_sessions", 0) == 0
        finally:
            await _stop(monitors, tasks, pool)


async def test_a_camera_closing_a_polled_session_is_seen_and_rejoined() -> None:
    cams = [camera("drop"), camera("ok")]
    faults = [("drop", "disconnect", 2.0, 3.0, {"after": 0})]
    async with SimServer(scenario(cams, faults, loop=2.0)) as sim:
        monitors, tasks, pool = await _watch(sim, ["drop", "ok"], FAST)
        try:
            drop = monitors["drop"]
            assert await until(lambda: drop.state.status is Status.LIVE, 8)
            assert await until(lambda: drop.state.status is Status.OFFLINE, 6)
            assert "connection" in drop.state.reason
            assert await until(lambda: drop.state.status is Status.LIVE, 10)
            assert monitors["ok"].state.status is Status.LIVE
        finally:
            await _stop(monitors, tasks, pool)


async def test_read_every_zero_keeps_reads_on_readiness() -> None:
    settings = dataclasses.replace(FAST, read_every=0.0)
    async with SimServer(scenario([camera("cam")])) as sim:
        monitors, tasks, pool = await _watch(sim, ["cam"], settings)
        try:
            assert await until(lambda: monitors["cam"].state.status is Status.LIVE, 8)
            assert len(poller_for(asyncio.get_running_loop())) == 0
        finally:
            await _stop(monitors, tasks, pool)


async def test_a_connection_without_kernel_timestamps_goes_back_to_readiness() -> None:
    from camwatch.rtsp.client import _UNSTAMPED_LIMIT, Endpoint, _Connection

    conn = _Connection(Endpoint("rtsp://127.0.0.1:9/cam"))
    ours, theirs = socket.socketpair()
    conn._polled = ours  # as start_polling leaves it, without a transport
    for _ in range(_UNSTAMPED_LIMIT - 1):
        assert conn._stamp([], 0.0) is None
    assert conn._polled is ours  # a few reads without a stamp are tolerated
    conn._stamp([], 0.0)
    assert conn._polled is None and ours.fileno() == -1  # stopped, descriptor closed
    theirs.close()
