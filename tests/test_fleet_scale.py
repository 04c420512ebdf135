"""What lets a fleet scale: the fair decode pool and its budget, statistics
rings that grow only as needed, fleet health figures, and cameras sharded over
worker processes against the real simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from simfixtures import camera, scenario, until

from camwatch import stats as stats_mod
from camwatch.bus import LocalBus
from camwatch.config import Inventory, camera_from_url
from camwatch.decode import DecodePool, PoolFigures
from camwatch.fleet import Fleet
from camwatch.fleethealth import (
    FleetHealth,
    Governor,
    HealthMeter,
    fresh_parts,
    merge,
    nominal_interval,
)
from camwatch.imaging import AnalysisHook
from camwatch.rtsp.framing import BinaryFrame, InterleavedFramer, TextMessage
from camwatch.sim import SimServer
from camwatch.state import CameraState, Status
from camwatch.stats import StreamStatsTracker

# --------------------------------------------------------------------------- pool


async def test_a_newer_keyframe_supersedes_the_waiting_one() -> None:
    pool = DecodePool(1)
    gate = threading.Event()
    try:
        busy = pool.offer("other", lambda _d: gate.wait(5), 0.0)
        first = pool.offer("cam", lambda _d: "old", 1.0)
        second = pool.offer("cam", lambda _d: "new", 1.0)
        assert first is not None and second is not None and busy is not None
        gate.set()
        assert await second == "new"
        assert first.cancelled()
        assert pool.figures().superseded == 1
    finally:
        gate.set()
        pool.shutdown()


async def test_the_longest_unserved_camera_goes_first() -> None:
    pool = DecodePool(1)
    gate = threading.Event()
    order: list[str] = []
    try:
        pool.offer("blocker", lambda _d: gate.wait(5), 0.0)
        futs = [
            pool.offer(name, lambda _d, n=name: order.append(n), served)
            for name, served in (("recent", 30.0), ("never", 0.0), ("older", 10.0))
        ]
        gate.set()
        await asyncio.gather(*futs)  # type: ignore[arg-type]
        assert order == ["never", "older", "recent"]
    finally:
        gate.set()
        pool.shutdown()


async def test_one_job_per_camera_runs_at_a_time() -> None:
    pool = DecodePool(4)
    running = 0
    peak = 0
    lock = threading.Lock()

    def job(_d: object) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    try:
        futs = []
        for _ in range(5):
            futs.append(pool.offer("cam", job, 0.0))
            await asyncio.sleep(0.005)
        await asyncio.gather(*(f for f in futs if f is not None), return_exceptions=True)
        assert peak == 1
    finally:
        pool.shutdown()


async def test_the_budget_caps_decode_cpu() -> None:
    pool = DecodePool(2, budget=0.2)

    def burn(_d: object) -> None:
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass

    try:
        t0 = time.monotonic()
        deadline = t0 + 1.5
        done = 0
        while time.monotonic() < deadline:
            futs = [pool.offer(f"c{i}", burn, 0.0) for i in range(4)]
            results = await asyncio.gather(*(f for f in futs if f), return_exceptions=True)
            done += sum(r is None for r in results)
        elapsed = time.monotonic() - t0
        cpu = pool.figures().cpu_s
        # 0.2 cores for 1.5 s is 0.3 s of CPU, plus the one second's worth of
        # credit a fresh pool starts with; unthrottled two threads would burn ~3 s.
        assert cpu <= 0.2 * elapsed + 0.2 + 0.1
        assert pool.figures().throttled_s > 0
        assert done > 0
    finally:
        pool.shutdown()


async def test_failures_reach_the_caller_and_are_counted() -> None:
    pool = DecodePool(1)
    try:
        fut = pool.offer("cam", lambda _d: 1 / 0, 0.0)
        assert fut is not None
        with pytest.raises(ZeroDivisionError):
            await fut
        assert pool.figures().failed == 1
    finally:
        pool.shutdown()


def test_offers_outside_an_event_loop_are_refused() -> None:
    pool = DecodePool(1)
    try:
        assert pool.offer("cam", lambda _d: 1, 0.0) is None
        assert pool.rejected == 1
    finally:
        pool.shutdown()


async def test_try_submit_stays_a_bounded_fifo() -> None:
    pool = DecodePool(1, max_pending=2)
    gate = threading.Event()
    try:
        a = pool.try_submit(lambda: gate.wait(5))
        b = pool.try_submit(lambda: "b")
        assert pool.try_submit(lambda: "c") is None
        assert pool.rejected == 1
        gate.set()
        assert await a is True and await b == "b"  # type: ignore[misc]
    finally:
        gate.set()
        pool.shutdown()


# --------------------------------------------------------------------------- framing


def recorder(out: list, tag: str = "") -> Callable[[list[bytes], bool, float | None], None]:
    """A route that records (tag, payloads, newest) for each call."""
    return lambda payloads, newest, at: out.append((tag, payloads, newest))


def test_routed_payloads_skip_the_list_and_keep_stream_order() -> None:
    seen: list[tuple[str, list[bytes], bool]] = []
    routes = {0: recorder(seen, "rtp"), 1: recorder(seen, "rtcp")}
    reply = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 2\r\n\r\nok"
    stream = (
        b"$\x00\x00\x03abc" + reply + b"$\x05\x00\x01z" + b"$\x01\x00\x02rr" + b"$\x00\x00\x04defg"
    )
    framer = InterleavedFramer()
    out = []
    for i in range(0, len(stream), 7):  # split anywhere, as TCP does
        out += framer.feed_routed(stream[i : i + 7], routes)
    assert seen == [("rtp", [b"abc"], True), ("rtcp", [b"rr"], True), ("rtp", [b"defg"], True)]
    assert out == [TextMessage(reply), BinaryFrame(5, b"z")]  # unrouted channel: returned


def test_a_route_that_raises_does_not_keep_the_others_from_theirs() -> None:
    def boom(payloads: list[bytes], newest: bool, at: float | None) -> None:
        raise ValueError("sink failed")

    rtcp: list = []
    framer = InterleavedFramer()
    with pytest.raises(ValueError):
        framer.feed_routed(b"$\x00\x00\x03bad$\x01\x00\x02rr$\x00", {0: boom, 1: recorder(rtcp)})
    assert rtcp == [("", [b"rr"], True)]
    got: list = []
    framer.feed_routed(b"\x00\x02ok", {0: recorder(got), 1: recorder(rtcp)})
    assert got == [("", [b"ok"], True)]  # the read that raised was consumed; the cut one kept


def test_a_read_hands_each_channel_its_packets_in_one_list_and_names_the_newest() -> None:
    lists: list = []
    routes = {0: recorder(lists, "rtp"), 1: recorder(lists, "rtcp")}
    framer = InterleavedFramer()
    stream = b"$\x00\x00\x01a$\x00\x00\x01b$\x01\x00\x01r$\x00\x00\x01c$\x00\x00\x02de"
    framer.feed_routed(stream[:-1], routes)  # the last one cut
    framer.feed_routed(stream[-1:], routes)
    assert lists == [
        ("rtp", [b"a", b"b", b"c"], True),  # "c" came after the RTCP packet
        ("rtcp", [b"r"], False),  # its arrival is not the read's
        ("rtp", [b"de"], True),
    ]
    lists.clear()
    framer.feed_routed(b"$\x00\x00\x01a$\x01\x00\x01r", routes)
    assert lists == [("rtp", [b"a"], False), ("rtcp", [b"r"], True)]


# --------------------------------------------------------------------------- stats


def _feed(t: StreamStatsTracker, pps: int, seconds: float) -> float:
    now, seq, ts = 0.0, 0, 0
    for k in range(int(pps * seconds)):
        now += 1 / pps
        if k % 4 == 0:
            ts += 6000
        t.on_packet(seq & 0xFFFF, ts & 0xFFFFFFFF, now, 1200)
        seq += 1 + (k % 97 == 0)  # a loss now and then
        if k % 4 == 3:
            t.on_frame(ts & 0xFFFFFFFF, now, 4800, k % 120 == 3)
    return now


def test_rings_grow_to_the_stream_and_keep_every_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    small = StreamStatsTracker(90000)
    end = _feed(small, 55, 100)
    monkeypatch.setattr(stats_mod, "_FIRST_CAPACITY", 8192)
    monkeypatch.setattr(stats_mod, "_FIRST_FRAME_CAPACITY", 1024)
    big = StreamStatsTracker(90000)
    _feed(big, 55, 100)
    assert small._cap < 8192 and small._fcap < 1024  # a substream needs far less
    a, b = small.snapshot(end), big.snapshot(end)
    # The drift line is fitted over differently chunked arrays: equal to rounding.
    assert a.clock_drift_ppm == pytest.approx(b.clock_drift_ppm, rel=1e-9)
    assert replace(a, clock_drift_ppm=None) == replace(b, clock_drift_ppm=None)


def test_rings_stop_at_the_capacity_asked_for() -> None:
    t = StreamStatsTracker(90000, capacity=1024, frame_capacity=64)
    _feed(t, 400, 10)
    assert t._cap == 1024 and t._fcap == 64


# --------------------------------------------------------------------------- health


def test_nominal_interval_follows_keyframes() -> None:
    assert nominal_interval(1.0, 2.0) == 2.0  # every keyframe
    assert nominal_interval(1.0, 0.5) == 1.0  # every other keyframe
    assert nominal_interval(5.0, 2.0) == 6.0  # the first keyframe 4.75 s on
    assert nominal_interval(1.0, None) == 1.0


def _figures(completed: int, cpu: float, budget: float | None = 1.0) -> PoolFigures:
    return PoolFigures(completed, 0, 0, 0, 0, 0, cpu, 0.0, 0.0, budget)


def test_health_reports_overload_with_its_cause() -> None:
    meter = HealthMeter()
    meter.seed(_figures(0, 0.0), now=0.0)
    h = meter.measure(
        cameras=2,
        live=2,
        periods=[(6.0, 2.0), (6.2, 2.0)],
        pool=_figures(10, 0.05),
        lag=(1.0, 9.0),
        now=0.05,
    )
    assert h.overloaded
    assert h.reason.startswith("sampling every 6.2 s instead of 2.0 s")  # the median camera
    assert "budget" in h.reason  # 0.05 s of CPU in 0.05 s: the whole 1-core budget


def test_the_governor_yields_to_a_lagging_loop_and_recovers() -> None:
    g = Governor(1.0)
    assert g.step(300.0) == pytest.approx(2 / 3)
    for _ in range(20):
        g.step(500.0)
    assert g.budget == pytest.approx(0.1)  # the floor: cameras are still sampled
    g.step(75.0)
    assert g.budget == pytest.approx(0.1)  # between half the target and the target: hold
    for _ in range(40):
        g.step(10.0)
    assert g.budget == pytest.approx(1.0)
    assert g.step(None) == pytest.approx(1.0)


def test_cameras_on_different_schedules_are_judged_each_against_its_own() -> None:
    def health(periods: list[tuple[float | None, float]]) -> FleetHealth:
        meter = HealthMeter()
        return meter.measure(
            cameras=len(periods), live=len(periods), periods=periods,
            pool=_figures(0, 0.0), lag=(None, None),
        )  # fmt: skip

    # Healthy cameras every 30 s, a few just sent back to every keyframe and
    # not measured yet: the median period (30 s) and the median schedule (16 s)
    # come from different cameras and must not read as an overload.
    assert not health([(30.0, 30.0)] * 8 + [(None, 2.0)] * 8).overloaded
    assert not health([(30.0, 30.0)] * 8 + [(2.1, 2.0)] * 8).overloaded
    late = health([(60.0, 30.0)] * 10 + [(4.0, 2.0)] * 6)
    assert late.overloaded and late.reason.startswith("sampling every 60.0 s instead of 30.0 s")


def test_health_on_schedule_is_not_overloaded() -> None:
    h = HealthMeter().measure(
        cameras=1, live=1, periods=[(2.05, 2.0)], pool=_figures(0, 0.0), lag=(None, None)
    )
    assert not h.overloaded and h.reason == ""


def test_merged_health_weighs_by_live_cameras_and_keeps_the_worst_lag() -> None:
    def part(live: int, interval: float, lag: float, overloaded: bool) -> FleetHealth:
        return FleetHealth(
            at=0.0, cameras=live, live=live, sample_interval_s=interval, nominal_interval_s=2.0,
            overloaded=overloaded, reason="sampling every x s instead of 2 s: cpu" if overloaded
            else "", samples_per_s=1.0, superseded_per_s=0.0, decode_cpu_pct=10.0,
            decode_budget_pct=50.0, decode_wait_ms=1.0, loop_lag_p50_ms=1.0, loop_lag_p99_ms=lag,
        )  # fmt: skip

    m = merge([part(300, 2.0, 40.0, False), part(100, 6.0, 90.0, True)], (0.5, 5.0))
    assert m.cameras == 400 and m.shards == 2
    assert m.sample_interval_s == pytest.approx(3.0)
    assert m.overloaded
    # The shard that is behind says why, in its own words: an average over shards
    # would mix their schedules and their budgets.
    assert m.reason == "sampling every x s instead of 2 s: cpu (1 of 2 shards)"
    assert m.loop_lag_p99_ms == 90.0 and m.decode_budget_pct == 100.0


def test_merged_reason_is_the_shard_furthest_behind() -> None:
    calm = HealthMeter().measure(
        cameras=100, live=100, periods=[(30.0, 30.0)] * 100, pool=_figures(0, 0.0),
        lag=(None, None),
    )  # fmt: skip
    meter = HealthMeter()
    meter.seed(_figures(0, 0.0), now=0.0)
    late = meter.measure(
        cameras=100, live=100, periods=[(6.2, 4.0)] * 100, pool=_figures(80, 1.0),
        lag=(None, None), now=1.0,
    )  # fmt: skip
    m = merge([calm, late], (None, None))
    assert m.overloaded
    assert m.reason == (
        "sampling every 6.2 s instead of 4.0 s: decode budget of 100% of a core exhausted"
        " (1 of 2 shards)"
    )


def test_the_overload_flag_needs_a_clear_recovery_before_it_drops() -> None:
    meter = HealthMeter()

    def at(ratio: float) -> bool:
        return meter.measure(
            cameras=1, live=1, periods=[(4.0 * ratio, 4.0)], pool=_figures(0, 0.0),
            lag=(None, None),
        ).overloaded  # fmt: skip

    assert [at(r) for r in (1.2, 1.3, 1.2, 1.3, 1.2, 1.1, 1.2)] == [
        False, True, True, True, True, False, False,
    ]  # fmt: skip


def test_a_seeded_meter_gives_true_rates_from_the_first_reading() -> None:
    unseeded = HealthMeter().measure(
        cameras=1, live=1, periods=[], pool=_figures(50, 0.5), lag=(None, None), now=10.0
    )
    assert unseeded.samples_per_s == 0.0  # nothing to take a rate against
    meter = HealthMeter()
    meter.seed(_figures(0, 0.0), now=0.0)
    h = meter.measure(
        cameras=1, live=1, periods=[], pool=_figures(50, 0.5), lag=(None, None), now=10.0
    )
    assert h.samples_per_s == pytest.approx(5.0) and h.decode_cpu_pct == pytest.approx(5.0)


def test_counters_that_go_back_start_the_rates_again() -> None:
    meter = HealthMeter()
    meter.seed(_figures(0, 0.0), now=0.0)
    for t, done in ((5.0, 100), (10.0, 200)):
        meter.measure(
            cameras=1, live=1, periods=[], pool=_figures(done, 0.0), lag=(None, None), now=t
        )
    after = [
        meter.measure(
            cameras=1, live=1, periods=[], pool=_figures(done, 0.0), lag=(None, None), now=t
        ).samples_per_s
        for t, done in ((15.0, 10), (20.0, 60))  # a new pool: its counts restart
    ]
    assert after == [0.0, pytest.approx(10.0)]  # never negative


def test_a_silent_shard_reads_as_overloaded_not_as_its_last_figures() -> None:
    calm = HealthMeter().measure(
        cameras=10, live=10, periods=[(4.0, 4.0)] * 10, pool=_figures(0, 0.0), lag=(None, None)
    )
    parts = fresh_parts({0: (100.0, calm), 1: (80.0, calm)}, now=101.0)
    assert [p.overloaded for p in parts] == [False, True]
    assert parts[1].reason == "shard 2 silent for 21 s (blocked or hung)"
    assert parts[1].sample_interval_s is None
    m = merge(parts, (None, None))
    assert m.overloaded and m.reason == "shard 2 silent for 21 s (blocked or hung) (1 of 2 shards)"


# --------------------------------------------------------------------------- shards


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    cams = [camera(f"cam{i}") for i in range(4)]
    async with SimServer(scenario(cams, [("cam3", "stall", 6.0, None, {})])) as server:
        yield server


async def test_a_sharded_fleet_reports_like_one_process(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import camwatch.fleet as fleet_mod

    monkeypatch.setattr(fleet_mod, "HEALTH_INTERVAL", 1.0)
    cams = tuple(
        dataclasses.replace(camera_from_url(url, name=name), stall_timeout=2.0)
        for name, url in sim.urls().items()
    )
    bus = LocalBus()
    sub = bus.subscribe(100_000)
    fleet = Fleet(Inventory(path=None, cameras=cams), bus, hook_factory=AnalysisHook, shards=2)
    await fleet.start()
    try:
        assert len(fleet.shard_pids()) == 2
        assert await until(
            lambda: sum(s.decode.keyframes_decoded > 0 for s in bus.states().values()) >= 3, 30
        )
        assert await until(lambda: bus.states()["cam3"].status is Status.STALLED, 20)
        assert fleet.latest_frame("cam0") is None  # asked for: shipped from now on
        assert await until(lambda: fleet.latest_frame("cam0") is not None, 10)
        frame = fleet.latest_frame("cam0")
        assert frame is not None and frame.camera == "cam0" and frame.gray.shape == (180, 320)
        baseline = await asyncio.to_thread(fleet.hooks["cam0"].capture_baseline)
        assert baseline is not None
        assert await until(lambda: fleet.health is not None and fleet.health.shards == 2, 10)
        changes = await fleet.reload(Inventory(path=None, cameras=cams[:3]))
        assert changes["removed"] == ["cam3"] and "cam3" not in fleet.monitors
    finally:
        pids = fleet.shard_pids()
        await fleet.stop()
    assert fleet.shard_pids() == [] and pids
    assert fleet.hooks["cam0"].baseline is not None  # brought home for the core to save
    kinds = {type(m) for m in sub.get_nowait()}
    assert CameraState in kinds and FleetHealth in kinds


async def test_a_fleet_with_custom_hooks_stays_in_process(sim: SimServer) -> None:
    cams = tuple(camera_from_url(url, name=name) for name, url in sim.urls().items())

    def custom(cfg: object) -> object:
        return lambda sample: (sample, None)

    fleet = Fleet(Inventory(path=None, cameras=cams), LocalBus(), hook_factory=custom, shards=2)
    await fleet.start()
    try:
        assert fleet.shard_pids() == []
        assert all(type(m).__name__ == "CameraMonitor" for m in fleet.monitors.values())
    finally:
        await fleet.stop()


def _in_step_rates(meter: HealthMeter) -> list[tuple[float, float]]:
    """120 cameras that learned together sample in one burst every 30 s (4 ms a
    sample); the fleet measures every 5 s. (samples/s, decode % of a core) after
    the first minute."""
    rates, done, cpu = [], 0, 0.0
    for step in range(40):
        if step % 6 == 3:
            done, cpu = done + 120, cpu + 0.48
        h = meter.measure(
            cameras=120, live=120, periods=[(30.0, 30.0)] * 120,
            pool=_figures(done, cpu), lag=(None, None), now=step * 5.0,
        )  # fmt: skip
        if step >= 12:
            rates.append((h.samples_per_s, h.decode_cpu_pct))
    return rates


def test_rates_span_a_minute_so_cameras_sampling_in_step_read_steady() -> None:
    meter = HealthMeter()
    for samples, decode in _in_step_rates(meter):
        assert samples == pytest.approx(4.0, rel=0.15)  # 240 samples a minute
        assert decode == pytest.approx(1.6, rel=0.15)  # 0.96 s of CPU a minute
    assert len(meter._history) <= 14  # one window of readings, and the one before it
    # Measured only since the previous reading, the same fleet reads 0 or a peak.
    short = {round(samples) for samples, _ in _in_step_rates(HealthMeter(window=5.0))}
    assert short == {0, 24}
