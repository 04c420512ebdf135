"""The bitstream size guard: synthetic GOPs for its rules, the simulator's own
encoded loops (the benchmark's substream: 640x360, 15 fps, 2 s GOP, 500 kbit/s)
for what it catches, and a real pipeline fed RTP packets for what a trip does."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from camwatch.config import camera_from_url
from camwatch.decode import DecodePool
from camwatch.imaging import AnalysisHook
from camwatch.pipeline import MediaPipeline, Sampled
from camwatch.rtsp.sdp import MediaTrack
from camwatch.sim.encoder import EncodedLoop, LoopSpec, encode_loop
from camwatch.sim.faults import FAULT_PARAMS
from camwatch.sim.scene import STYLES
from camwatch.sizeguard import (
    FEATURES,
    MAX_P_FRAMES,
    GuardSettings,
    SizeGuard,
    summarise,
)

Frame = tuple[int, bool]  # bytes, keyframe

# -- synthetic GOPs ----------------------------------------------------------------


def gop(key: int, p: int, frames: int = 30, jitter: float = 0.1, seed: int = 0) -> list[Frame]:
    """A keyframe of `key` bytes and P frames around `p` bytes (+-jitter)."""
    rng = random.Random(seed)
    ps = [(int(p * (1 + rng.uniform(-jitter, jitter))), False) for _ in range(frames - 1)]
    return [(key, True), *ps]


def steady(count: int, key: int = 30_000, p: int = 3_000, seed: int = 0) -> list[Frame]:
    rng = random.Random(seed)
    out: list[Frame] = []
    for i in range(count):
        out += gop(int(key * (1 + rng.uniform(-0.1, 0.1))), p, seed=seed * 1000 + i)
    return out


def feed(guard: SizeGuard, frames: list[Frame]) -> list[int]:
    """Indexes of the frames at which the guard tripped."""
    return [i for i, (size, key) in enumerate(frames) if guard.on_frame(size, key)]


def learned(**settings: object) -> SizeGuard:
    """A guard that learned a steady camera (and judged a few more GOPs)."""
    guard = SizeGuard(GuardSettings(**settings))  # type: ignore[arg-type]
    assert feed(guard, steady(10)) == []
    assert guard.ready
    return guard


def test_a_steady_camera_is_learned_and_never_trips() -> None:
    guard = SizeGuard()
    frames = steady(200, seed=3)
    assert feed(guard, frames[: 30 * 4]) == []
    assert not guard.ready  # the first keyframe opens the first GOP: 3 complete so far
    assert feed(guard, frames[30 * 4 :]) == []
    assert guard.ready and guard.trips == 0
    assert guard.gops == 199  # every complete GOP judged or learned


@pytest.mark.parametrize(
    ("what", "key", "p", "feature"),
    [
        ("keyframe shrinks", 6_000, 3_000, "keyframe"),
        ("P frames shrink", 30_000, 300, "p_median"),
        ("keyframe grows, P shrink alike", 44_000, 2_150, "ratio"),
    ],
)
def test_a_gop_out_of_the_band_trips_at_its_end(what: str, key: int, p: int, feature: str) -> None:
    guard = learned()
    odd = gop(key, p, seed=99)
    trips = feed(guard, [*odd, *gop(30_000, 3_000)])
    assert trips == [len(odd)], what  # the keyframe that closes the odd GOP
    trip = guard.last_trip
    assert trip is not None and trip.feature == feature and trip.gop is not None
    assert not trip.low - 0.5 <= trip.value <= trip.high + 0.5
    # The band is learned afresh, starting from the GOP that left the old one.
    assert guard.trips == 1 and guard.learned == 1 and not guard.ready


def test_p_frames_that_vary_more_trip_on_spread() -> None:
    guard = learned()
    odd = gop(30_000, 3_000, jitter=0.8, seed=5)  # sizes from 600 to 5400 bytes
    assert feed(guard, [*odd, (30_000, True)]) == [len(odd)]
    assert guard.last_trip is not None and guard.last_trip.feature in ("spread", "peak")


def test_a_gop_of_another_length_trips() -> None:
    guard = learned()
    short = gop(30_000, 3_000, frames=12)
    assert feed(guard, [*short, (30_000, True)]) == [len(short)]
    assert guard.last_trip is not None and guard.last_trip.feature == "frames"


def test_keyframes_that_stop_trip_once_without_waiting_for_one() -> None:
    guard = learned()  # 30-frame GOPs: overdue after 3 x 30 frames
    frames = [(30_000, True)] + [(3_000, False)] * 400
    assert feed(guard, frames) == [91]  # the 92nd frame of a GOP
    assert guard.last_trip is not None and guard.last_trip.gop is None
    # The overlong GOP is not learned: the next complete GOP starts the new band.
    assert feed(guard, gop(30_000, 3_000)) == []
    assert guard.learned == 0


def test_a_gop_that_lost_frames_is_neither_judged_nor_learned() -> None:
    lost = [0]
    guard = SizeGuard(lost=lambda: lost[0])
    assert feed(guard, steady(8)) == []
    before = guard.gops
    cut = gop(30_000, 3_000, frames=9)  # the rest of the GOP went missing
    assert feed(guard, cut[:5]) == []
    lost[0] += 21
    assert feed(guard, [*cut[5:], *steady(3)]) == []
    assert guard.gops == before + 3  # the one it closed, then two: the cut one skipped
    # A lost keyframe merges two GOPs: long, but not a trip either.
    lost[0] += 1
    merged = gop(30_000, 3_000, frames=100)[1:]
    assert feed(guard, [*merged, *steady(2)]) == []
    assert guard.trips == 0 and guard.ready


def test_the_band_follows_slow_change_but_not_a_step() -> None:
    guard = learned()
    frames: list[Frame] = []
    for i in range(100):  # P frames 1% smaller every GOP: x0.37 in 200 s
        frames += gop(30_000, int(3_000 * 0.99**i), seed=i)
    assert feed(guard, frames) == []
    guard = learned()
    assert feed(guard, [*gop(30_000, 1_100), (30_000, True)]) != []  # the same change at once


def test_short_gops_are_judged_on_length_and_keyframe_only() -> None:
    guard = SizeGuard()
    frames = [(20_000, True), (2_000, False)] * 40  # 2-frame GOPs: no P figures
    assert feed(guard, frames) == [] and guard.ready
    assert guard.band is not None and len(guard.band.low) == 2
    assert feed(guard, [(20_000, True), *([(2_000, False)] * 5), (20_000, True)]) != []
    assert guard.last_trip is not None and guard.last_trip.feature == "frames"


def test_a_short_gop_while_learning_leaves_the_p_figures_in_the_band() -> None:
    # An IDR inserted mid-GOP (a camera does it when another client connects)
    # makes one GOP too short for P figures: the band must still judge them.
    guard = SizeGuard()
    learning = [*gop(30_000, 3_000), (30_000, True), (3_000, False), *steady(4)]
    assert feed(guard, learning) == [] and guard.ready
    assert guard.band is not None and len(guard.band.low) == len(FEATURES)
    frozen = [(30_000, True)] + [(300 if i % 3 else 9_000, False) for i in range(29)]
    assert feed(guard, [*frozen, (30_000, True)]) != []


def test_p_sizes_kept_per_gop_are_bounded() -> None:
    guard = SizeGuard()
    feed(guard, [(30_000, True)] + [(3_000, False)] * (MAX_P_FRAMES * 5))
    assert len(guard._p) == MAX_P_FRAMES
    summary = summarise(30_000, [3_000] * MAX_P_FRAMES, MAX_P_FRAMES * 5 + 1)
    assert summary.frames == MAX_P_FRAMES * 5 + 1 and len(summary.features) == len(FEATURES)


@pytest.mark.parametrize(
    "settings",
    [{"learn_gops": 0}, {"shrink": 1.0}, {"margins": (0.1,) * 3}, {"overdue": 1.0}],
)
def test_bad_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        GuardSettings(**settings)


# -- the simulator's loops ---------------------------------------------------------

SUBSTREAM = LoopSpec(
    codec="h264", width=640, height=360, fps=15.0, gop_frames=30, gops=4, bitrate=500_000
)
# Looks that left the band at the end of their first GOP in every one of 9 runs
# (x264's output varies from run to run); camwatch/sizeguard.py says what else.
TRIPS = [
    ("street", "covered"),
    ("street", "frozen"),
    ("street", "frozen+clock"),
    ("street", "noise"),
    ("busy", "defocus"),
    ("busy", "low_light"),
    ("static", "defocus"),
    ("night", "covered"),
    ("night", "frozen"),
    ("night", "black"),
]


def look_spec(style: str, look: str) -> LoopSpec:
    base = dataclasses.replace(SUBSTREAM, style=style)
    if look == "normal":
        return base
    if look == "frozen+clock":
        return base.with_look("frozen", (("clock", 1.0),))
    params = tuple((k, float(v)) for k, v in FAULT_PARAMS[look].items())
    spec = base.with_look(look, params)
    # As the simulator plays it: one GOP of one still picture, over and over.
    return dataclasses.replace(spec, gops=1) if look == "frozen" else spec


def long_spec(style: str) -> LoopSpec:
    """Another scene, 16 s before it repeats: more than a band learns in 4 GOPs."""
    return dataclasses.replace(SUBSTREAM, style=style, scene=1, gops=8)


@pytest.fixture(scope="module")
def loops() -> Iterator[dict[LoopSpec, EncodedLoop]]:
    specs = {look_spec(style, "normal") for style in STYLES}
    specs |= {look_spec(style, look) for style, look in TRIPS}
    specs |= {long_spec(style) for style in STYLES}
    with ThreadPoolExecutor(2) as pool:  # x264 runs without the GIL
        yield dict(zip(specs, pool.map(encode_loop, specs), strict=True))


def sizes(loop: EncodedLoop, repeat: int = 1) -> list[Frame]:
    """Frame sizes as the pipeline sees them: RTP payload bytes per frame."""
    return [(sum(map(len, u.payloads)), u.keyframe) for u in loop.frames] * repeat


@pytest.mark.parametrize("phase", [0, 11, 29])
@pytest.mark.parametrize("style", STYLES)
def test_healthy_loops_never_trip_once_learned(
    loops: dict[LoopSpec, EncodedLoop], style: str, phase: int
) -> None:
    guard = SizeGuard()
    frames = sizes(loops[long_spec(style)], 3)[phase:]  # 48 s, 8 GOPs a lap
    assert feed(guard, frames) == []
    assert guard.ready and guard.gops >= 22


@pytest.mark.parametrize(("style", "look"), TRIPS)
def test_an_image_fault_trips_within_one_gop(
    loops: dict[LoopSpec, EncodedLoop], style: str, look: str
) -> None:
    guard = SizeGuard()
    healthy = sizes(loops[look_spec(style, "normal")], 3)  # 24 s: learned, then judged
    assert feed(guard, healthy) == [] and guard.ready
    fault = sizes(loops[look_spec(style, look)], 2 if look != "frozen" else 8)
    # The simulator switches looks at a keyframe; the fault's first GOP ends at
    # the next keyframe, and that is where the guard must trip.
    assert feed(guard, fault)[:1] == [SUBSTREAM.gop_frames]


# -- a real pipeline -----------------------------------------------------------------

T = 0.2  # seconds between two keyframes: the GOP, compressed
BASE, HEALTHY = T, 5.5 * T  # every keyframe; every sixth while healthy
TRACK = MediaTrack("video", 96, "H264", 90000, {}, "rtsp://127.0.0.1/cam/", None)


class Camera:
    """Plays sim loops GOP by GOP as RTP into a pipeline with a real analyzer."""

    def __init__(self) -> None:
        cfg = dataclasses.replace(
            camera_from_url("rtsp://127.0.0.1/cam", name="cam"),
            thresholds={"baseline_samples": 3.0},
        )
        self.pool = DecodePool(1)
        self.samples = 0
        self.pipe = MediaPipeline(
            "cam", TRACK, self.pool, sample_interval=BASE, healthy_sample_interval=HEALTHY,
            frame_hook=AnalysisHook(cfg), on_sample=self._sampled,
        )  # fmt: skip
        self.seq = self.frame = 0

    def _sampled(self, sampled: Sampled) -> None:
        self.samples += 1

    async def gop(self, loop: EncodedLoop, index: int) -> None:
        """Send GOP `index` of a loop (its keyframe, then its P frames)."""
        n = loop.spec.gop_frames
        for unit in loop.frames[index * n : (index + 1) * n]:
            last = len(unit.payloads) - 1
            for j, payload in enumerate(unit.payloads):
                head = struct.pack(
                    "!BBHII", 0x80, (0x80 if j == last else 0) | 96, self.seq & 0xFFFF,
                    self.frame * 6000, 0x5EED,
                )  # fmt: skip
                self.pipe.on_rtp(head + payload)
                self.seq += 1
            self.frame += 1
            if unit.keyframe:
                for _ in range(500):  # the decode finishes well within the GOP
                    if not self.pool.pending:
                        break
                    await asyncio.sleep(0.01)
        await asyncio.sleep(T)

    def close(self) -> None:
        self.pool.shutdown()


async def healthy_and_just_sampled(cam: Camera, loop: EncodedLoop) -> None:
    """Play the healthy loop until the camera samples rarely and the guard has
    learned, up to a GOP whose keyframe was sampled."""
    played = 0
    while played < 40:
        before = cam.samples
        await cam.gop(loop, played % loop.spec.gops)
        played += 1
        guard = cam.pipe._guard
        ready = guard is not None and guard.ready
        if cam.pipe.sample_interval == HEALTHY and ready and cam.samples > before:
            return
    raise AssertionError("the camera never settled on the healthy interval")


@pytest.mark.parametrize("look", ["covered", "normal"])
async def test_a_trip_brings_back_every_keyframe(
    loops: dict[LoopSpec, EncodedLoop], look: str
) -> None:
    normal, other = loops[look_spec("street", "normal")], loops[look_spec("street", look)]
    cam = Camera()
    try:
        await healthy_and_just_sampled(cam, normal)
        samples = cam.samples
        # The look switches at the next keyframe. Its first GOP ends with the
        # keyframe after; both come too soon after the last sample to be sampled.
        await cam.gop(other, 0)
        await cam.gop(other, 1)
        assert cam.samples == samples  # nothing of the new look decoded yet
        if look == "covered":
            assert cam.pipe.guard_trips == 1
            assert cam.pipe.sample_interval == BASE
            assert cam.pipe.decode_stats().guard_trips == 1
        else:
            assert cam.pipe.guard_trips == 0
            assert cam.pipe.sample_interval == HEALTHY
        # 3 T after the last sample: sampled only if the guard tripped.
        await cam.gop(other, 2)
        assert cam.samples == samples + (look == "covered")
        if look == "covered":
            # The gap before that sample belongs to the healthy schedule: not
            # measured (it would read as a fleet too busy to sample on time).
            assert cam.pipe.sample_period is None
            await cam.gop(other, 3)
            assert cam.samples == samples + 2
            assert cam.pipe.sample_period is not None and cam.pipe.sample_period < HEALTHY
    finally:
        cam.close()
