"""StreamStatsTracker against packet sequences whose truth is known by construction."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from camwatch.state import StreamStats
from camwatch.stats import StreamStatsTracker

RATE = 90_000
START = 1000.0
TS_MASK = 0xFFFFFFFF

Delay = Callable[[int, random.Random], float]


def _fixed_delay(k: int, rng: random.Random) -> float:
    return 0.001


@dataclass
class Stream:
    """A simulated camera stream: delivery-ordered events plus the truth behind them."""

    events: list[tuple] = field(default_factory=list)
    lost: set[int] = field(default_factory=set)  # global packet indices never delivered
    sent: int = 0
    duplicates: int = 0
    frames_ok: int = 0
    frames_dropped: int = 0
    keyframes: int = 0
    first_seq: int = 0
    last_seq: int = 0  # unwrapped
    send_times: dict[int, float] = field(default_factory=dict)
    jitter_input: list[tuple[int, float]] = field(default_factory=list)  # (unwrapped ts, arrival)

    @property
    def end(self) -> float:
        return max(e[0] for e in self.events)


def make_stream(
    *,
    fps: float = 15.0,
    ppf: int = 30,
    seconds: float = 20.0,
    seq0: int = 0,
    ts0: int = 0,
    start: float = START,
    loss: float = 0.0,
    drop: Callable[[int], bool] = lambda k: False,
    delay: Delay = _fixed_delay,
    dup: float = 0.0,
    drift_ppm: float = 0.0,
    gop: int = 30,
    size: int = 1000,
    pace: float = 0.0005,
    frame_ts: Callable[[int], int] | None = None,
    seed: int = 7,
) -> Stream:
    """Frames every 1/fps of camera time, each sent as ppf packets paced `pace` apart.

    A camera clock fast by drift_ppm emits its frames (1 + drift) times more often
    in local time. A frame with any packet lost is reported as dropped when its last
    surviving packet arrives, as a depacketizer would.
    """
    rng = random.Random(seed)
    s = Stream(first_seq=seq0, last_seq=seq0 + round(seconds * fps) * ppf - 1)
    for f in range(round(seconds * fps)):
        send0 = start + f / fps / (1 + drift_ppm * 1e-6)
        ts = frame_ts(f) if frame_ts else ts0 + round(f * RATE / fps)
        arrivals = []
        for j in range(ppf):
            k = f * ppf + j
            s.sent += 1
            s.send_times[k] = send0 + j * pace
            if drop(k) or rng.random() < loss:
                s.lost.add(k)
                continue
            a = send0 + j * pace + delay(k, rng)
            arrivals.append(a)
            s.events.append((a, 0, k, "p", (seq0 + k) & 0xFFFF, ts & TS_MASK, size, ts))
            if rng.random() < dup:
                s.duplicates += 1
                s.events.append((a + 0.002, 0, k, "p", (seq0 + k) & 0xFFFF, ts & TS_MASK, size, ts))
        done = max(arrivals) if arrivals else send0
        if len(arrivals) == ppf:
            s.frames_ok += 1
            s.keyframes += f % gop == 0
            s.events.append((done, 1, f, "f", ts & TS_MASK, ppf * size, f % gop == 0))
        else:
            s.frames_dropped += 1
            s.events.append((done, 1, f, "d"))
    s.events.sort(key=lambda e: (e[0], e[1], e[2]))
    s.jitter_input = [(e[7], e[0]) for e in s.events if e[3] == "p"]
    return s


def feed(
    tracker: StreamStatsTracker,
    events: list[tuple],
    snapshot_every: float | None = None,
) -> None:
    """Deliver events in order; optionally take a snapshot each `snapshot_every` seconds."""
    next_snap = events[0][0] + snapshot_every if snapshot_every else math.inf
    for e in events:
        if e[0] >= next_snap:
            tracker.snapshot(e[0])
            next_snap += snapshot_every or 0
        if e[3] == "p":
            tracker.on_packet(e[4], e[5], e[0], e[6])
        elif e[3] == "f":
            tracker.on_frame(e[4], e[0], e[5], e[6])
        else:
            tracker.on_frame_dropped()


def reference_jitter(packets: list[tuple[int, float]], rate: int) -> float:
    """RFC 3550 A.8 written out plainly, on unwrapped timestamps, in RTP units."""
    jitter = 0.0
    previous = None
    for ts, arrival in packets:
        transit = arrival * rate - ts
        if previous is not None:
            jitter += (abs(transit - previous) - jitter) / 16.0
        previous = transit
    return jitter


def window_truth(s: Stream, now: float, window: float) -> float:
    """Loss ratio of the packets sent during the window."""
    sent = [k for k, t in s.send_times.items() if now - window <= t <= now]
    return sum(k in s.lost for k in sent) / len(sent)


# ---- a clean stream ------------------------------------------------------------------------


def test_clean_stream_figures_match_construction() -> None:
    s = make_stream(delay=lambda k, rng: 0.001 + rng.random() * 0.002)
    t = StreamStatsTracker(RATE)
    t.mark_started(START - 0.25)
    feed(t, s.events)
    now = s.end
    st = t.snapshot(now)
    assert st.packets_received == 9000
    assert st.packets_lost == 0
    assert st.loss_ratio == 0.0
    assert st.fps == pytest.approx(15.0, rel=1e-9)  # camera clock: exact
    assert t.window(now).fps_source == "rtp"
    # 30 packets x 1000 bytes x 15 fps over the last 10 s.
    assert st.bitrate_bps == pytest.approx(3_600_000, rel=0.01)
    assert st.gop_s == pytest.approx(2.0)
    assert st.frames == 300
    assert st.keyframes == 10
    assert st.frames_dropped == 0
    assert st.bytes_received == 9_000_000
    assert st.since_last_packet_s == pytest.approx(0.0, abs=1e-9)
    first_frame = next(e[0] for e in s.events if e[3] == "f")
    assert st.first_frame_ms == pytest.approx((first_frame - (START - 0.25)) * 1000)
    assert st.clock_drift_ppm is None  # 20 s is too short a baseline to claim a drift


def test_empty_tracker_reports_nothing_yet() -> None:
    t = StreamStatsTracker(RATE)
    st = t.snapshot(5.0)
    assert st == StreamStats()
    assert t.report_block() == (0.0, 0, 0, 0)
    assert t.lsr_dlsr(5.0) == (0, 0)


# ---- loss, reordering, duplicates, wrap-around, re-basing ------------------------------------


def test_random_loss_with_reordering_matches_truth() -> None:
    # Delays of up to 4 ms against 0.5 ms pacing reorder many neighbours.
    s = make_stream(loss=0.02, seed=11, delay=lambda k, rng: rng.uniform(0.0005, 0.004))
    t = StreamStatsTracker(RATE)
    feed(t, s.events)
    seqs = [e[2] for e in s.events if e[3] == "p"]
    assert any(b < a for a, b in itertools.pairwise(seqs))  # really reordered
    received_ks = [k for k in range(s.sent) if k not in s.lost]
    lo, hi = min(received_ks), max(received_ks)
    true_lost = sum(lo <= k <= hi for k in s.lost)
    now = s.end
    st = t.snapshot(now)
    assert st.packets_received == s.sent - len(s.lost)
    assert st.packets_lost == true_lost
    assert st.loss_ratio == pytest.approx(window_truth(s, now, 10.0), abs=0.003)
    assert 0.01 < st.loss_ratio < 0.03
    assert st.frames == s.frames_ok
    assert st.frames_dropped == s.frames_dropped
    fraction, cumulative, highest, _ = t.report_block()
    assert cumulative == true_lost
    assert highest == hi
    assert fraction == pytest.approx(true_lost / (hi - lo + 1))


def test_late_packets_are_neither_loss_nor_counted_twice() -> None:
    # Every 7th packet arrives 3 ms late, after ~6 of its successors.
    s = make_stream(delay=lambda k, rng: 0.004 if k % 7 == 3 else 0.001)
    t = StreamStatsTracker(RATE, window_s=10.0)
    seqs = [e[2] for e in s.events if e[3] == "p"]
    assert sum(b < a for a, b in itertools.pairwise(seqs)) > 1000
    for n in range(0, len(s.events), 100):
        feed(t, s.events[n : n + 100])
        # Windows start anywhere, also just before a late packet. At most the one
        # packet still in flight at that instant may count as lost.
        assert t.window(s.events[n + 99][0]).lost <= 1
    st = t.snapshot(s.end)
    w = t.window(s.end)
    assert st.packets_lost == 0
    assert st.loss_ratio == 0.0
    assert w.lost == 0 and w.expected > 4000
    assert t.report_block()[:2] == (0.0, 0)


def test_duplicates_collapse_in_the_window() -> None:
    s = make_stream(drop=lambda k: k % 100 == 50, dup=0.03, seed=3)
    # One window (and ring) over the whole stream.
    t = StreamStatsTracker(RATE, window_s=100.0, capacity=16384)
    feed(t, s.events)
    w = t.window(s.end)
    assert s.duplicates > 100
    assert w.packets == s.sent - len(s.lost) + s.duplicates
    assert w.expected == s.sent
    assert w.lost == len(s.lost) == 90
    # Cumulative figures follow RFC 3550, where a duplicate counts as received.
    st = t.snapshot(s.end)
    assert st.packets_lost == max(0, len(s.lost) - s.duplicates)


def test_sequence_and_timestamp_wrap_around() -> None:
    seq0 = 65_000
    ts0 = (1 << 32) - RATE * 3  # the RTP timestamp wraps after 3 s
    s = make_stream(seq0=seq0, ts0=ts0, drop=lambda k: k % 50 == 25, seed=5)
    t = StreamStatsTracker(RATE)
    feed(t, s.events)
    st = t.snapshot(s.end)
    assert st.packets_lost == len(s.lost) == 180
    assert st.loss_ratio == pytest.approx(0.02, abs=0.001)
    assert st.frames == s.frames_ok and st.frames_dropped == s.frames_dropped > 0
    _, cumulative, highest, jitter = t.report_block()
    assert cumulative == 180
    assert highest == s.last_seq  # 65000 + 8999: one cycle counted
    assert jitter == int(reference_jitter(s.jitter_input, RATE))


def test_wrapped_timestamps_keep_fps_and_gop() -> None:
    s = make_stream(seq0=65_500, ts0=(1 << 32) - RATE * 3, seed=5)
    t = StreamStatsTracker(RATE)
    feed(t, s.events)
    st = t.snapshot(s.end)
    assert st.fps == pytest.approx(15.0, rel=1e-9)
    assert st.gop_s == pytest.approx(2.0)
    assert st.packets_lost == 0


@pytest.mark.parametrize(("seq_a", "seq_b"), [(1000, 40_000), (50_000, 100), (65_000, 30_000)])
def test_sequence_restart_rebases_instead_of_counting_loss(seq_a: int, seq_b: int) -> None:
    a = make_stream(seconds=6.0, seq0=seq_a, ts0=5_000)
    b = make_stream(seconds=6.0, seq0=seq_b, ts0=123_456_789, start=a.end + 0.05, seed=8, gop=15)
    t = StreamStatsTracker(RATE)
    feed(t, a.events + b.events[:100])
    # The stream's own jitter is ~1.2 ms (a frame's 30 packets share its timestamp but
    # leave 0.5 ms apart); the new timestamp origin must not register as ~1400 s.
    assert t.jitter_ms < 2.0
    feed(t, b.events[100:])
    st = t.snapshot(b.end)
    assert t.discarded == 1  # the first packet after the jump waits for confirmation
    assert st.packets_received == a.sent + b.sent - 1
    assert st.packets_lost == 0
    assert st.loss_ratio == 0.0
    assert st.jitter_ms < 2.0
    # Only the new incarnation's frames are read against the camera clock.
    assert st.fps == pytest.approx(15.0, rel=1e-6)
    assert st.gop_s == pytest.approx(1.0)
    fraction, cumulative, highest, _ = t.report_block()
    assert (fraction, cumulative) == (0.0, 0)
    assert highest == b.last_seq


def test_a_single_stray_packet_does_not_rebase() -> None:
    s = make_stream(seconds=4.0, seed=2)
    stray = (s.events[1000][0] + 1e-5, 0, 10**9, "p", 33_333, 42, 1000, 42)
    t = StreamStatsTracker(RATE)
    feed(t, [*s.events[:1001], stray, *s.events[1001:]])
    st = t.snapshot(s.end)
    assert t.discarded == 1
    assert st.packets_lost == 0
    assert t.report_block()[2] == s.last_seq


# ---- stalls and time-based figures -----------------------------------------------------------


def test_stall_lowers_fps_then_zeroes_it() -> None:
    s = make_stream(seconds=20.0)
    t = StreamStatsTracker(RATE, window_s=10.0)
    feed(t, s.events)
    last_frame = max(e[0] for e in s.events if e[3] == "f")
    now = s.end + 5.0
    st = t.snapshot(now)
    frames_in_window = sum(1 for e in s.events if e[3] == "f" and e[0] >= now - 10.0)
    assert st.since_last_packet_s == pytest.approx(5.0)
    assert st.since_last_frame_s == pytest.approx(now - last_frame)
    assert st.fps == pytest.approx(frames_in_window / 10.0, abs=0.11)
    assert st.fps == pytest.approx(7.5, abs=0.2)
    assert st.bitrate_bps == pytest.approx(1_800_000, rel=0.02)
    later = t.snapshot(s.end + 11.0)
    assert later.fps == 0.0
    assert later.bitrate_bps == 0.0
    assert later.loss_ratio == 0.0
    assert later.gop_s == pytest.approx(2.0)  # the last interval seen stays known
    assert later.since_last_frame_s == pytest.approx(s.end + 11.0 - last_frame)


def test_fps_falls_back_to_arrival_when_timestamps_are_garbage() -> None:
    junk = random.Random(4)
    s = make_stream(seconds=12.0, frame_ts=lambda f: junk.randrange(1 << 32))
    t = StreamStatsTracker(RATE)
    feed(t, s.events)
    w = t.window(s.end)
    assert w.fps_source == "arrival"
    assert w.fps == pytest.approx(15.0, rel=0.01)


def test_fps_with_b_frames_out_of_timestamp_order() -> None:
    # Decode order I0 P3 B1 B2 P6 B4 B5 ...: timestamps step back within each group.
    order = [0] + [i for g in range(1, 200) for i in (3 * g, 3 * g - 2, 3 * g - 1)]
    t = StreamStatsTracker(RATE)
    for n, f in enumerate(order[:300]):
        t.on_frame(f * 6000, START + n / 15.0, 5000, f % 30 == 0)
    now = START + 299 / 15.0
    w = t.window(now)
    assert w.fps_source == "rtp"
    # The window's edges may cut a reordered group: off by at most 2 of ~75 frames.
    assert w.fps == pytest.approx(15.0, rel=2 / 75)
    assert w.gop_s == pytest.approx(2.0)


# ---- jitter -----------------------------------------------------------------------------------


def test_jitter_matches_independent_reference() -> None:
    s = make_stream(
        seconds=8.0,
        ts0=(1 << 32) - RATE * 2,
        delay=lambda k, rng: rng.expovariate(1 / 0.005),
        loss=0.01,
        seed=21,
    )
    t = StreamStatsTracker(RATE)
    packets = [e for e in s.events if e[3] == "p"]
    # Check often, and right after the timestamp wraps (2 s in): an error there decays fast.
    for n in range(0, len(packets), 50):
        feed(t, packets[n : n + 50])
        expected = reference_jitter(s.jitter_input[: n + 50], RATE)
        assert t.jitter_ms == pytest.approx(expected / RATE * 1000, rel=1e-7)
    assert expected > 100  # several ms: a figure worth checking
    assert t.snapshot(s.end).jitter_ms == pytest.approx(expected / RATE * 1000, rel=1e-7)
    assert t.report_block()[3] == int(expected)


def test_jitter_is_zero_for_constant_transit() -> None:
    t = StreamStatsTracker(RATE)
    for i in range(500):
        t.on_packet(i, i * 900, START + i / 100, 1000)
    assert t.jitter_ms == pytest.approx(0.0, abs=1e-6)


def test_jitter_converges_to_alternating_transit_step() -> None:
    # Transit alternates between 0 and d, so every |D| is d and J_n = d (1 - (15/16)^n).
    d_s = 0.002
    t = StreamStatsTracker(RATE)
    for i in range(401):
        t.on_packet(i, i * 900, START + i / 100 + (d_s if i % 2 else 0.0), 1000)
        if i == 10:
            assert t.jitter_ms == pytest.approx(2.0 * (1 - (15 / 16) ** 10), rel=1e-7)
    assert t.jitter_ms == pytest.approx(2.0 * (1 - (15 / 16) ** 400), rel=1e-7)
    assert t.jitter_ms == pytest.approx(2.0, rel=1e-9)


def _delayed_frames(
    max_delay: float, seed: int
) -> tuple[StreamStatsTracker, list[tuple[int, float]]]:
    """15 fps, 20 packets per frame sent together; each frame held up by a random
    0..max_delay s, order kept (a later frame cannot overtake an earlier one)."""
    rng = random.Random(seed)
    t = StreamStatsTracker(RATE)
    firsts: list[tuple[int, float]] = []
    ready = START
    seq = 0
    for f in range(300):
        ts = (f * RATE // 15 + (1 << 32) - RATE) & TS_MASK  # wraps after one second
        ready = max(ready, START + f / 15 + rng.uniform(0.0, max_delay))
        firsts.append((f * RATE // 15, ready))
        for j in range(20):
            t.on_packet(seq & 0xFFFF, ts, ready + j * 0.0001, 1200)
            seq += 1
    return t, firsts


def test_frame_jitter_follows_frame_delays_the_packet_figure_dilutes() -> None:
    t, firsts = _delayed_frames(0.3, seed=5)
    # The filter over each frame's first packet, written out plainly.
    assert t.frame_jitter_ms == pytest.approx(
        reference_jitter(firsts, RATE) / RATE * 1000, rel=1e-6
    )
    assert t.frame_jitter_ms > 40.0  # frame delays of 0-300 ms are felt
    assert t.jitter_ms < t.frame_jitter_ms / 5  # the per-packet figure is diluted
    assert t.snapshot(firsts[-1][1]).frame_jitter_ms == t.frame_jitter_ms


def test_frame_jitter_is_small_for_a_steady_camera() -> None:
    t, _ = _delayed_frames(0.0, seed=5)
    assert t.frame_jitter_ms == pytest.approx(0.0, abs=1e-3)


def test_frame_jitter_ignores_b_frame_reordering() -> None:
    # Decode order I0 P3 B1 B2 P6 B4 B5 ..., sent steadily every 1/15 s: B-frames
    # step back in timestamp but nothing arrives irregularly.
    order = [0] + [i for g in range(1, 100) for i in (3 * g, 3 * g - 2, 3 * g - 1)]
    t = StreamStatsTracker(RATE)
    for n, f in enumerate(order):
        for j in range(5):
            t.on_packet((n * 5 + j) & 0xFFFF, f * 6000, START + n / 15.0 + j * 0.0001, 1000)
    assert t.frame_jitter_ms < 1.0
    assert t.jitter_ms > 10.0  # the per-packet filter reads the reordering as jitter


def test_late_packets_do_not_count_as_new_frames() -> None:
    # Every 7th packet is late by 3 ms: frame starts stay regular, so no frame jitter.
    s = make_stream(delay=lambda k, rng: 0.004 if k % 7 == 3 else 0.001, ppf=10)
    t = StreamStatsTracker(RATE)
    feed(t, s.events)
    assert t.frame_jitter_ms < 1.0
    assert t.jitter_ms > 0.1  # while the per-packet filter does see the late packets


# ---- clocks -----------------------------------------------------------------------------------


def _jittery_delay(k: int, rng: random.Random) -> float:
    # Exponential queueing plus one packet in ten held up by 30 ms.
    return 0.0005 + rng.expovariate(1 / 0.003) + (0.03 if rng.random() < 0.1 else 0.0)


@pytest.mark.parametrize("ppm", [40.0, -25.0, 0.0])
def test_rtp_clock_drift_is_read_through_jitter(ppm: float) -> None:
    # The timestamp wraps a minute in: the transit trend must not notice.
    ts0 = (1 << 32) - RATE * 60
    s = make_stream(seconds=120.0, ppf=5, ts0=ts0, drift_ppm=ppm, delay=_jittery_delay, seed=13)
    t = StreamStatsTracker(RATE)
    feed(t, s.events, snapshot_every=1.0)
    st = t.snapshot(s.end)
    assert st.clock_drift_ppm == pytest.approx(ppm, abs=2.0)
    assert t.rtp_drift_ppm() == st.clock_drift_ppm


def test_drift_needs_a_baseline() -> None:
    s = make_stream(seconds=25.0, ppf=5, drift_ppm=40.0, delay=_jittery_delay)
    t = StreamStatsTracker(RATE)
    feed(t, s.events, snapshot_every=1.0)
    assert t.snapshot(s.end).clock_drift_ppm is None


def test_sender_reports_give_offset_and_drift() -> None:
    rng = random.Random(17)
    ppm, offset = 30.0, 2.5
    t = StreamStatsTracker(RATE)
    wall0 = 1_700_000_000.0
    for i in range(61):
        local = i * 5.0
        camera_wall = wall0 + offset + local * (1 + ppm * 1e-6)
        delay = rng.uniform(0.0005, 0.003)
        t.on_sender_report(camera_wall, i * 450_000, START + local + delay, wall0 + local + delay)
        if i == 3:
            assert t.sr_drift_ppm() is None  # 15 s: too short to tell
    assert t.sr_drift_ppm() == pytest.approx(ppm, abs=3.0)
    assert t.clock_offset_s() == pytest.approx(offset + 300 * ppm * 1e-6, abs=0.004)
    # Without RTP to read, the snapshot's drift comes from the reports.
    assert t.snapshot(START + 301).clock_drift_ppm == t.sr_drift_ppm()


def test_local_wall_clock_step_is_not_camera_drift() -> None:
    t = StreamStatsTracker(RATE)
    wall0 = 1_700_000_000.0
    for i in range(61):
        local = i * 5.0
        step = 1.0 if i >= 30 else 0.0  # our NTP daemon steps the wall clock halfway
        t.on_sender_report(wall0 + local * (1 + 20e-6), 0, START + local, wall0 + local + step)
    assert t.sr_drift_ppm() == pytest.approx(20.0, abs=0.1)
    assert t.clock_offset_s() == pytest.approx(300 * 20e-6 - 1.0)


def test_first_frame_latency_is_per_play() -> None:
    t = StreamStatsTracker(RATE)
    t.mark_started(START)
    t.on_frame(0, START + 0.4, 1000, True)
    t.on_frame(6000, START + 0.5, 1000, False)
    assert t.snapshot(START + 1).first_frame_ms == pytest.approx(400.0)
    t.mark_started(START + 10.0)  # reconnected: a new PLAY
    assert t.snapshot(START + 10.1).first_frame_ms is None
    t.on_frame(12000, START + 10.9, 1000, True)
    assert t.snapshot(START + 11).first_frame_ms == pytest.approx(900.0)


def test_lsr_dlsr_fields() -> None:
    t = StreamStatsTracker(RATE)
    ntp_unix = 1_700_000_123.25
    t.on_sender_report(ntp_unix, 0, START, ntp_unix)
    seconds = 1_700_000_123 + 2_208_988_800
    fraction = 1 << 30  # 0.25 s in NTP's 32-bit fraction
    expected_lsr = ((seconds & 0xFFFF) << 16) | (fraction >> 16)
    assert t.lsr_dlsr(START + 1.5) == (expected_lsr, int(1.5 * 65536))


# ---- bounded memory ---------------------------------------------------------------------------


def test_overflowing_rings_use_what_remains() -> None:
    s = make_stream(drop=lambda k: k % 20 == 10, seed=9)
    t = StreamStatsTracker(RATE, capacity=1024, frame_capacity=16)
    feed(t, s.events)
    now = s.end
    w = t.window(now)
    arrivals = sorted(e[0] for e in s.events if e[3] == "p")
    assert w.packets == 1024
    assert w.duration_s == pytest.approx(now - arrivals[-1024])
    assert w.loss_ratio == pytest.approx(0.05, abs=0.003)
    # Packets come in per-frame bursts: a short span can be off by one frame's bytes.
    one_frame_bps = 30 * 1000 * 8 / w.duration_s
    assert w.bitrate_bps == pytest.approx(450 * 0.95 * 8000, abs=one_frame_bps)
    st = t.snapshot(now)
    assert st.packets_lost == len(s.lost)  # cumulative counters do not live in the rings
    assert st.packets_received == s.sent - len(s.lost)


def test_overflowing_frame_ring_keeps_fps() -> None:
    s = make_stream(ppf=4)
    t = StreamStatsTracker(RATE, frame_capacity=16)
    feed(t, s.events)
    w = t.window(s.end)
    assert w.frames == 16
    assert w.fps == pytest.approx(15.0, rel=1e-9)
    assert w.gop_s == pytest.approx(2.0)


# ---- receiver report and input checks ---------------------------------------------------------


def test_report_block_fraction_is_since_the_last_call() -> None:
    t = StreamStatsTracker(RATE)
    for i in range(1000):
        if i % 100 != 50:
            t.on_packet(i, i * 900, START + i / 100, 1000)
    assert t.report_block()[:3] == (0.01, 10, 999)
    for i in range(1000, 2000):
        t.on_packet(i, i * 900, START + i / 100, 1000)
    assert t.report_block()[:3] == (0.0, 10, 1999)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clock_rate": 0}, "clock_rate"),
        ({"clock_rate": 90000.0}, "clock_rate"),
        ({"clock_rate": RATE, "window_s": 0}, "window_s"),
        ({"clock_rate": RATE, "window_s": math.nan}, "window_s"),
        ({"clock_rate": RATE, "capacity": 3}, "capacity"),
        ({"clock_rate": RATE, "frame_capacity": 0}, "frame_capacity"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StreamStatsTracker(**kwargs)


def test_non_finite_sender_report_is_refused() -> None:
    t = StreamStatsTracker(RATE)
    with pytest.raises(ValueError, match="finite"):
        t.on_sender_report(math.inf, 0, START, START)
    assert t.clock_offset_s() is None


# --------------------------------------------------------------------------- pulse


def test_a_steady_stream_pulses_no_news_and_a_loss_or_fps_drop_does() -> None:
    t = StreamStatsTracker(90000)
    seq, now = 0, 100.0

    def second(fps: int, skip_every: int = 0, key: bool = True) -> None:
        nonlocal seq, now
        for f in range(fps):
            ts = int(now * 90000)
            for _ in range(4):
                seq = (seq + 1) & 0xFFFF
                if skip_every and seq % skip_every == 0:
                    continue
                t.on_packet(seq, ts, now, 1000)
            t.on_frame(ts, now, 4000, key and f == 0)
            now += 1.0 / fps

    for _ in range(6):
        second(15)
    published = t.snapshot(now)
    prev = t.pulse(now)
    second(15)
    assert not t.pulse(now).may_have_moved(prev, published)
    prev = t.pulse(now)
    second(15, skip_every=7)  # a packet lost now and then
    assert t.pulse(now).may_have_moved(prev, published)
    prev = t.pulse(now)
    second(3)  # the camera drops to 3 fps
    assert t.pulse(now).may_have_moved(prev, published)
    prev = t.pulse(now)
    assert t.pulse(now + 1.0).may_have_moved(prev, published)  # silence: let a snapshot tell
    for _ in range(6):
        second(15)
    published, prev = t.snapshot(now), t.pulse(now)
    second(15, key=False)
    second(15)  # one keyframe interval of 2 s: the GOP doubled
    assert t.pulse(now).may_have_moved(prev, published)


def test_packets_without_a_known_arrival_stay_out_of_the_jitter_filters() -> None:
    # Frames of a steady 25 fps camera read four at a time (a socket low-water
    # mark): each read's time is exact only for its newest packet.
    def run(exact_all: bool) -> tuple[float, float]:
        t = StreamStatsTracker(90000)
        seq = 0
        for read in range(200):
            now = 10.0 + read * 0.16
            for f in range(4):
                ts = int((10.0 + read * 0.16 - (3 - f) * 0.04) * 90000)
                for p in range(3):
                    seq += 1
                    newest = f == 3 and p == 2
                    t.on_packet(seq, ts, now, 1000, exact=exact_all or newest)
        return t.jitter_ms, t.frame_jitter_ms

    assert max(run(exact_all=False)) < 0.5
    assert min(run(exact_all=True)) > 5.0  # what the filters read if they took every packet


def test_b_frames_read_last_stay_out_of_the_frame_jitter() -> None:
    # IBBP in send order (P3 B1 B2 P6 B4 B5 ...), two frames per read, steady:
    # a read may end on a B-frame, whose timestamp steps back by the reorder delay.
    order = [0]
    for p in range(3, 300, 3):
        order += [p, p - 2, p - 1]
    t = StreamStatsTracker(90000)
    seq = 0
    for r in range(0, len(order) - 1, 2):
        now = 10.0 + (r + 1) / 15  # the read happens as its second frame arrives
        for k, frame in enumerate(order[r : r + 2]):
            for p in range(3):
                seq += 1
                t.on_packet(seq, 9000 + frame * 6000, now, 1000, exact=k == 1 and p == 2)
    assert t.frame_jitter_ms < 1.0, t.frame_jitter_ms


def test_jitter_starts_from_the_first_packet_of_known_arrival() -> None:
    # A first (timed) read holds 1 s of a steady 10 fps stream: its packets
    # carry the read's time, up to 1 s after they arrived. Only the packets
    # after it, of known arrival, may move the jitter filters.
    t = StreamStatsTracker(90000)
    for k in range(10):
        t.on_packet(k, k * 9000, 1.0, 1000, exact=k == 9)
    assert (t.jitter_ms, t.frame_jitter_ms) == (0.0, 0.0)
    late = StreamStatsTracker(90000)
    for k in range(10):
        late.on_packet(k, k * 9000, 1.0, 1000, exact=False)
    for k in range(10, 30):  # exact arrivals, perfectly paced
        for tracker in (t, late):
            tracker.on_packet(k, k * 9000, k * 0.1 + 0.1, 1000, exact=True)
    assert t.jitter_ms < 1e-6 and t.frame_jitter_ms < 1e-6
    assert late.jitter_ms < 1e-6 and late.frame_jitter_ms < 1e-6
