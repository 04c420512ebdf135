"""A bitstream size guard: image faults seen in frame sizes, for free.

A camera whose picture is healthy is sampled rarely (pipeline.py). Between two
samples nothing decodes its frames, yet the statistics already see every
frame's size and keyframe flag. A rate-controlled encoder spends its bits
differently when the picture changes: a black, covered, blurred, frozen, snowy
or dark picture moves the keyframe's size, the typical P frame's size, their
ratio and how much the P frames differ from each other. `SizeGuard` sums up
each GOP (keyframe to keyframe) in a few log figures, learns the camera's band
of each over its first GOPs, lets the band follow slow change (day and night),
and trips when a GOP leaves the band by a margin, so the camera is sampled at
the full rate again at once. A trip is a hint, not a finding: the analysis of
the next samples says whether anything is wrong.

What it sees, measured on the simulator's H.264 loops (CBR-like, 640x360,
15 fps, 2 s GOP; tests/test_sizeguard.py): a covered lens, a frozen picture
(with or without a ticking clock) and snow leave the band within the first
GOP in most styles; black, defocus and low light in some (the simulator's
black is faint noise that a CBR encoder spends its bits on, a keyframe ~40%
smaller, near the margin); a moved camera never (same content, same bits)
and overexposure rarely. A sudden light change (clouds, IR switch) may trip
it, which costs a few samples at the full rate. The simulator's x265 loops
switch rate-control regime on their own every few GOPs and trip it often.

Sans-I/O and O(1) per frame: on_frame() appends a size; the work is done once
per GOP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

FEATURES = ("frames", "keyframe", "p_median", "ratio", "spread", "peak")
MIN_P_FRAMES = 4  # a GOP with fewer P frames says nothing of their sizes
MAX_P_FRAMES = 600  # P sizes kept per GOP (memory bound); longer GOPs are judged on these


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """How the guard learns and how far a GOP may stray (margins in natural log)."""

    learn_gops: int = 4  # GOPs that make a band (8 s at a 2 s GOP)
    # Per GOP the band narrows by this fraction of its width, so extremes not
    # seen again are forgotten over ~1/shrink GOPs and the band follows a slow
    # drift (light through the day) instead of keeping every past extreme.
    shrink: float = 1 / 32
    # Margins, in the order of FEATURES: frames per GOP (x1.5), keyframe size,
    # median P size, keyframe / median P, P quartile spread, largest P / median P.
    # The simulator's healthy H.264 loops (4 styles, 250 kbit/s to 1 Mbit/s,
    # 15 and 25 fps, 16 to 32 s loops, x264 run to run) left a learned band by
    # at most 0.38 (keyframe), 0.25, 0.46, 0.39 and 0.52 (peak): these hold them.
    margins: tuple[float, ...] = (0.405, 0.5, 0.35, 0.5, 0.5, 0.7)
    # A GOP still open after this many times the longest learned GOP: the
    # keyframes stopped (or the GOP grew a lot); trips without waiting for one.
    overdue: float = 3.0

    def __post_init__(self) -> None:
        if self.learn_gops < 1:
            raise ValueError(f"learn_gops must be at least 1, got {self.learn_gops}")
        if not 0.0 <= self.shrink < 1.0:
            raise ValueError(f"shrink must be in [0, 1), got {self.shrink}")
        if len(self.margins) != len(FEATURES) or min(self.margins) < 0.0:
            raise ValueError(f"margins: {len(FEATURES)} non-negative numbers, got {self.margins}")
        if self.overdue <= 1.0:
            raise ValueError(f"overdue must be more than 1, got {self.overdue}")


@dataclass(frozen=True, slots=True)
class GopSummary:
    """One completed GOP: its length and sizes in bytes (P figures need
    MIN_P_FRAMES P frames); `features` gives what the band judges."""

    frames: int
    keyframe_bytes: int
    p_median: float | None  # bytes
    p_low: float | None  # first and third quartiles of the P sizes
    p_high: float | None
    p_max: int | None

    @property
    def features(self) -> tuple[float, ...]:
        """Log figures in the order of FEATURES (only the first two without P figures)."""
        key = math.log(max(1, self.keyframe_bytes))
        if self.p_median is None or self.p_low is None or self.p_high is None or not self.p_max:
            return (math.log(self.frames), key)
        mid = math.log(max(1.0, self.p_median))
        spread = math.log(max(1.0, self.p_high) / max(1.0, self.p_low))
        return (math.log(self.frames), key, mid, key - mid, spread, math.log(self.p_max) - mid)


def summarise(keyframe_bytes: int, p_sizes: list[int], frames: int) -> GopSummary:
    """The summary of a GOP: its keyframe, the sizes of (up to MAX_P_FRAMES of)
    its P frames and its length in frames."""
    if len(p_sizes) < MIN_P_FRAMES:
        return GopSummary(frames, keyframe_bytes, None, None, None, None)
    p = sorted(p_sizes)
    n = len(p)
    # Quartiles rather than mean and deviation: a moving object or a burst of
    # motion makes a few large P frames without moving these.
    return GopSummary(
        frames, keyframe_bytes, float(p[n // 2]), float(p[n // 4]), float(p[(3 * n) // 4]), p[-1]
    )


@dataclass(frozen=True, slots=True)
class Band:
    """The range of each feature seen lately (learned GOPs, then accepted ones)."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    @staticmethod
    def of(features: tuple[float, ...]) -> Band:
        return Band(features, features)

    def widened(self, features: tuple[float, ...]) -> Band:
        """The band that also holds features (ranges they lack stay as they are,
        features it lacks, after a GOP too short for P figures, start a range)."""
        n = len(self.low)
        low = tuple(min(lo, x) for lo, x in zip(self.low, features, strict=False))
        high = tuple(max(hi, x) for hi, x in zip(self.high, features, strict=False))
        return Band(
            low + self.low[len(low) :] + features[n:], high + self.high[len(high) :] + features[n:]
        )

    def followed(self, features: tuple[float, ...], shrink: float) -> Band:
        """Widened to hold features, then each range narrowed by `shrink` of its
        width about its middle (ranges the features lack stay as they are)."""
        half = shrink / 2
        low, high = list(self.low), list(self.high)
        for i, (x, lo, hi) in enumerate(zip(features, self.low, self.high, strict=False)):
            lo, hi = min(lo, x), max(hi, x)
            cut = (hi - lo) * half
            low[i], high[i] = lo + cut, hi - cut
        extra = features[len(low) :]
        return Band(tuple(low) + extra, tuple(high) + extra)

    def outside(self, features: tuple[float, ...], margins: tuple[float, ...]) -> int | None:
        """Index of the first feature beyond the band by more than its margin."""
        for i, (x, lo, hi, m) in enumerate(
            zip(features, self.low, self.high, margins, strict=False)
        ):
            if x < lo - m or x > hi + m:
                return i
        return None


@dataclass(frozen=True, slots=True)
class Trip:
    """Why the guard tripped: a feature out of its band (value and band in log)."""

    feature: str
    value: float
    low: float
    high: float
    gop: GopSummary | None  # None: no keyframe came (the GOP is overdue)


class SizeGuard:
    """Feed every frame of one stream; on_frame() returns True when it trips.

    lost: a count of frames lost so far (read once per GOP). A GOP during which
    it moved is neither judged nor learned: a GOP cut short by packet loss is
    the network's doing, which the stream statistics report.
    """

    def __init__(
        self, settings: GuardSettings | None = None, lost: Callable[[], int] | None = None
    ) -> None:
        self.settings = settings or GuardSettings()
        self._lost = lost
        self._lost_seen = lost() if lost is not None else 0
        self._key = 0  # the open GOP's keyframe size
        self._p: list[int] = []  # its P sizes (at most MAX_P_FRAMES)
        self._n = 0  # frames after its keyframe
        self._damaged = True  # frames before the first keyframe make no GOP
        self._limit: float = math.inf  # open GOP length that trips (see _arm)
        self.band: Band | None = None
        self.learned = 0  # GOPs in the band being learned (up to learn_gops)
        self.trips = 0
        self.last_trip: Trip | None = None
        self.gops = 0  # GOPs judged or learned

    @property
    def ready(self) -> bool:
        """The band is learned: GOPs are judged."""
        return self.learned >= self.settings.learn_gops

    def on_frame(self, size: int, key: bool) -> bool:
        """One frame (bytes, keyframe flag) in stream order; True: tripped."""
        if key:
            return self._close(size)
        n = self._n = self._n + 1
        if n <= MAX_P_FRAMES:
            self._p.append(size)
        return n > self._limit and self._overdue()

    def relearn(self) -> None:
        """Forget the band: the next GOPs make a new one."""
        self.band, self.learned = None, 0
        self._arm()

    # -- once per GOP ---------------------------------------------------------
    def _close(self, key_size: int) -> bool:
        lost = self._lost_frames()  # always: it takes the count for the next GOP
        summary = None if self._damaged or lost else self._summary()
        self._key, self._n, self._damaged = key_size, 0, False
        self._p.clear()
        tripped = summary is not None and self._judge(summary)
        self._arm()
        return tripped

    def _arm(self) -> None:
        """Set the open GOP length that trips: none while learning."""
        band = self.band
        ready = band is not None and self.ready
        self._limit = round(self.settings.overdue * math.exp(band.high[0])) if ready else math.inf

    def _summary(self) -> GopSummary:
        return summarise(self._key, self._p, self._n + 1)

    def _lost_frames(self) -> bool:
        """Whether frames were lost since the last look (and take the count)."""
        if self._lost is None:
            return False
        lost = self._lost()
        moved, self._lost_seen = lost != self._lost_seen, lost
        return moved

    def _judge(self, summary: GopSummary) -> bool:
        self.gops += 1
        features = summary.features
        band = self.band
        if not self.ready or band is None:
            self._learn(features)
            return False
        out = band.outside(features, self.settings.margins)
        if out is not None:
            self._trip(Trip(FEATURES[out], features[out], band.low[out], band.high[out], summary))
            self._learn(features)  # the new band starts with the GOP that left the old one
            return True
        self.band = band.followed(features, self.settings.shrink)
        return False

    def _learn(self, features: tuple[float, ...]) -> None:
        band = self.band
        # A GOP too short for P figures widens only the ranges it has.
        self.band = Band.of(features) if band is None else band.widened(features)
        self.learned += 1

    def _overdue(self) -> bool:
        """The open GOP outgrew the band: trip once, unless frames were lost
        (a lost keyframe merges two GOPs)."""
        self._limit = math.inf  # once per GOP: the next keyframe re-arms it
        self._damaged = True  # too long to summarise against any band
        if self._lost_frames():
            return False
        band = self.band
        value = math.log(self._n + 1)
        high = band.high[0] if band is not None else value
        low = band.low[0] if band is not None else value
        self._trip(Trip(FEATURES[0], value, low, high, None))
        return True

    def _trip(self, trip: Trip) -> None:
        self.trips += 1
        self.last_trip = trip
        self.relearn()
