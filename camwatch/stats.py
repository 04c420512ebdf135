"""Per-camera RTP stream statistics over sliding windows.

The receive path calls `StreamStatsTracker.on_packet` for every RTP packet of
every camera, so it does only what cannot be deferred: RFC 3550 A.1 sequence
extension (whose state decides what a packet *is*), the A.8 jitter filter
(a running recurrence over arrival order), and four stores into fixed numpy
ring buffers. Everything that looks at a whole window (loss, fps, bitrate,
GOP, clock drift) runs in numpy when a snapshot is asked for, about once a
second.

Semantics of the figures in `StreamStats`:
- cumulative since the tracker was created: packets_received, packets_lost,
  frames, keyframes, frames_dropped, bytes_received;
- over the sliding window (`window_s`): loss_ratio, fps, bitrate_bps, gop_s
  (which falls back to the last keyframe interval seen when the window holds
  fewer than two keyframes);
- over a long baseline (up to 15 min, at least 30 s, else None): clock_drift_ppm,
  from RTP timestamps against arrival, or from RTCP sender reports when RTP
  gives none yet;
- current: jitter_ms (the RFC 3550 filter state, per packet, as RTCP receiver
  reports carry it), frame_jitter_ms (the same filter over the first packet of
  each frame), since_last_*_s, first_frame_ms. Both filters take only packets
  whose arrival is known: of several read at once, the newest (on_packet).

Why a per-frame jitter besides the RFC's: a camera sends each frame as a burst
of packets sharing one timestamp, so most per-packet differences are zero and
the RFC figure dilutes frame delays by the packets per frame (300-1000 ms of
frame delay read as 7-34 ms). What a viewer suffers, and what the jitter rule
judges, is how irregularly frames arrive.

Bounded memory: the packet and frame rings hold `capacity` and
`frame_capacity` records. When a window holds more than that, the oldest
records are overwritten and the window figures are computed over what
remains (its actual time span is the divisor of the rates), so they cover a
shorter, more recent window rather than growing memory.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .state import StreamStats

SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000  # RFC 3550 A.1: forward jumps up to this are in-order (with loss)
MAX_MISORDER = 100  # RFC 3550 A.1: backward steps up to this are late packets
_TS_HALF = 1 << 31
_TS_MOD = 1 << 32
_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_FLOOR_BIN_S = 1.0  # one lower-envelope point per second of packets
_FLOOR_HISTORY = 900  # 15 min of floor points: the drift baseline
_DRIFT_GROUPS = 32
_DRIFT_REFIT = 10  # floor points (seconds) between two fits of the drift line
_MIN_DRIFT_SPAN_S = 30.0  # ms of delay noise over shorter baselines reads as tens of ppm
_MIN_SR_SPAN_S = 20.0  # SR offsets carry ms of delay noise: need a long baseline
_SR_HISTORY = 64
_FIRST_CAPACITY = 512  # records; rings double from here up to the capacity asked for
_FIRST_FRAME_CAPACITY = 64
_KEEP_WINDOWS = 1.5  # a ring grows rather than overwrite a record younger than this


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """What one sliding window holds (the source of a snapshot's window figures)."""

    duration_s: float  # time the window actually covers (shorter at start or after overflow)
    packets: int  # packets that arrived in the window, duplicates and late ones included
    expected: int  # new sequence numbers the window should have brought
    lost: int
    loss_ratio: float
    bytes: int
    bitrate_bps: float
    frames: int  # completed access units that arrived in the window
    fps: float
    fps_source: str  # "rtp" (camera clock), "arrival" (local clock) or "none"
    gop_s: float | None
    keyframe_bytes: int | None  # median keyframe size: what each GOP's refresh costs


@dataclass(frozen=True, slots=True)
class Pulse:
    """A tracker's running counters at one instant (StreamStatsTracker.pulse)."""

    at: float
    packets: int
    lost: int
    frames: int
    frames_dropped: int
    bytes: int
    frame_jitter_ms: float
    gop_s: float | None  # the last keyframe interval seen

    def may_have_moved(self, prev: Pulse, published: StreamStats) -> bool:
        """False when nothing since `prev` can have moved the published figures
        by a deadband of camera.stats_moved; errs towards True.

        A snapshot reads the whole window (a few hundred records, numpy calls):
        once a second for every camera it was a sixth of the event loop's time
        at 217 cameras, to learn, almost always, that nothing moved.
        """
        dt = self.at - prev.at
        if dt <= 0.0 or self.packets == prev.packets:
            return True  # no time, or silence: let the snapshot tell
        if self.lost != prev.lost or self.frames_dropped != prev.frames_dropped:
            return True
        # Frames counted between two checks move by a read's worth (reads are
        # coalesced, a fifth of a second each), so the band is wider than
        # stats_moved's on the windowed figure, yet well inside a halving.
        fps = (self.frames - prev.frames) / dt
        if abs(fps - published.fps) > max(2.0, 0.4 * published.fps):
            return True
        # One second holds a keyframe or not: +-25 % around the mean at GOP 2 s.
        bitrate = (self.bytes - prev.bytes) * 8 / dt
        if not 0.5 * published.bitrate_bps <= bitrate <= 2.0 * published.bitrate_bps:
            return True
        if (self.gop_s is None) != (published.gop_s is None) or (
            self.gop_s is not None
            and published.gop_s is not None
            and abs(self.gop_s - published.gop_s) > 0.5
        ):
            return True
        # The very figure a snapshot publishes: stats_moved's own deadband.
        return abs(self.frame_jitter_ms - published.frame_jitter_ms) > 5.0


class StreamStatsTracker:
    """Statistics of one RTP video stream. Not thread-safe: one owner (its camera task)."""

    __slots__ = (
        "_arr",
        "_bad_seq",
        "_base_seq",
        "_bytes",
        "_cap",
        "_ct",
        "_cycles",
        "_discarded",
        "_epoch",
        "_expected_prior",
        "_f_arr",
        "_f_epoch",
        "_f_key",
        "_f_size",
        "_f_ts",
        "_fcap",
        "_fct",
        "_first_ext",
        "_first_frame",
        "_fjitter",
        "_floor",
        "_frame_epoch",
        "_frames_dropped",
        "_fref",
        "_fresh",
        "_fts",
        "_jct",
        "_jfts",
        "_jitter",
        "_jref",
        "_keyframes",
        "_last_arrival",
        "_last_frame_arrival",
        "_last_frame_ext",
        "_last_frame_raw",
        "_last_gop_s",
        "_last_key_ext",
        "_lt",
        "_max_cap",
        "_max_fcap",
        "_max_seq",
        "_n",
        "_nf",
        "_off",
        "_rate",
        "_received_prior",
        "_recv_at_init",
        "_seq",
        "_size",
        "_srs",
        "_started",
        "_tr",
        "_window",
    )

    def __init__(
        self,
        clock_rate: int,
        window_s: float = 5.0,
        capacity: int = 8192,
        frame_capacity: int = 1024,
    ) -> None:
        if not isinstance(clock_rate, int) or clock_rate <= 0:
            raise ValueError(f"clock_rate must be a positive integer (Hz), got {clock_rate!r}")
        if not (isinstance(window_s, int | float) and math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        if not isinstance(capacity, int) or capacity < 16:
            raise ValueError(f"capacity must be an integer >= 16, got {capacity!r}")
        if not isinstance(frame_capacity, int) or frame_capacity < 4:
            raise ValueError(f"frame_capacity must be an integer >= 4, got {frame_capacity!r}")
        self._rate = float(clock_rate)
        self._window = float(window_s)
        # The rings start small and double, up to capacity, whenever they would
        # overwrite a record younger than _KEEP_WINDOWS windows: a 55 packets/s
        # substream settles at 1024 records (32 KB) instead of 8192 (256 KB),
        # and a snapshot, which reads whole rings, costs accordingly.
        self._max_cap = capacity
        self._max_fcap = frame_capacity
        self._cap = min(capacity, _FIRST_CAPACITY)
        self._fcap = min(frame_capacity, _FIRST_FRAME_CAPACITY)
        # Packet ring: arrival (s), extended sequence, payload size, continuous transit.
        self._arr = np.zeros(self._cap, dtype=np.float64)
        self._seq = np.zeros(self._cap, dtype=np.int64)
        self._size = np.zeros(self._cap, dtype=np.int64)
        self._tr = np.zeros(self._cap, dtype=np.float64)
        self._n = 0  # packets accepted (the RFC's "received", duplicates included)
        self._bytes = 0
        self._discarded = 0
        self._fresh = True
        self._last_arrival: float | None = None
        # RFC 3550 A.1 state; _off maps each re-based sequence into one continuous space.
        self._max_seq = 0
        self._cycles = 0
        self._base_seq = 0
        self._bad_seq = SEQ_MOD + 1
        self._off = 0
        self._first_ext = 0
        self._recv_at_init = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._epoch = 0  # bumped when the source re-bases: RTP time is not comparable across
        # RFC 3550 A.8 state, in RTP units.
        self._lt = 0.0  # last raw transit
        self._jct = 0.0  # _ct at the last packet whose arrival is known
        self._ct = 0.0  # transit made continuous across timestamp wrap and re-base
        self._jitter = 0.0
        # Whether _jct (and _fct) come from a packet of known arrival: until one
        # comes, the filters only take their reference (a first read holding
        # several frames would otherwise start them on a false difference).
        self._jref = self._fref = False
        # The same filter over frames: transit of the last frame's first packet.
        self._fts = 0  # RTP timestamp of the newest forward frame (set by its first packet)
        self._jfts = 0  # ...of the last frame the frame filter took
        self._fct = 0.0  # _ct at that frame
        self._fjitter = 0.0
        # Frame ring: arrival, extended RTP timestamp, size, keyframe, epoch.
        self._f_arr = np.zeros(self._fcap, dtype=np.float64)
        self._f_ts = np.zeros(self._fcap, dtype=np.int64)
        self._f_size = np.zeros(self._fcap, dtype=np.int64)
        self._f_key = np.zeros(self._fcap, dtype=np.bool_)
        self._f_epoch = np.zeros(self._fcap, dtype=np.int64)
        self._nf = 0
        self._keyframes = 0
        self._frames_dropped = 0
        self._frame_epoch = -1
        self._last_frame_raw = 0
        self._last_frame_ext = 0
        self._last_key_ext: int | None = None
        self._last_gop_s: float | None = None
        self._last_frame_arrival: float | None = None
        self._first_frame: float | None = None
        self._started: float | None = None
        self._srs: deque[tuple[float, float, float]] = deque(maxlen=_SR_HISTORY)
        self._floor = _TransitFloor(_FLOOR_HISTORY)

    # ---- per-packet path -------------------------------------------------------------

    def on_packet(
        self, seq: int, rtp_ts: int, arrival: float, size: int, exact: bool = True
    ) -> None:
        """Record one RTP packet. seq is 16-bit, rtp_ts 32-bit, arrival time.monotonic().

        exact False: the packet came in one read with later ones, so `arrival`
        is when the read happened, not when it arrived; it counts everywhere but
        in the jitter filters, which take only packets whose arrival is known
        (the newest of each read).
        """
        if self._fresh:
            self._first_packet(seq, rtp_ts, arrival, size, exact)
            return
        udelta = (seq - self._max_seq) & 0xFFFF
        if udelta < MAX_DROPOUT:
            if seq < self._max_seq:
                self._cycles += SEQ_MOD
            self._max_seq = seq
            ext = self._off + self._cycles + seq
            # A frame starts when the timestamp moves forward: B-frames, sent after
            # the later frame they depend on, step back and are left out, so the
            # I/P frames (a constant reorder delay apart) keep a steady transit.
            if 0 < ((rtp_ts - self._fts) & 0xFFFFFFFF) < _TS_HALF:
                self._fts = rtp_ts
        elif udelta > SEQ_MOD - MAX_MISORDER:
            # Late or duplicate: it belongs to the previous cycle when it is above max_seq.
            rfc_ext = self._cycles + seq - (SEQ_MOD if seq > self._max_seq else 0)
            if rfc_ext < self._base_seq:
                self._late_before_base(rfc_ext)
            ext = self._off + rfc_ext
        else:
            self._jump(seq, rtp_ts, arrival, size, exact)
            return
        transit = arrival * self._rate - rtp_ts
        d = transit - self._lt
        self._lt = transit
        # A 32-bit timestamp wrap shows up as a 2**32 step in transit: fold it away.
        if d > 2147483648.0:
            d -= 4294967296.0
        elif d < -2147483648.0:
            d += 4294967296.0
        self._ct += d
        if exact:
            self._jitters(rtp_ts)
        self._store(ext, arrival, size)

    def _jitters(self, rtp_ts: int) -> None:
        """RFC 3550 A.8 over the packets whose arrival is known, and the same
        filter over the first of them in each newest forward frame (a B-frame
        read last stays out, whatever came with it). Differences are taken on
        the continuous transit, already folded across wraps and re-bases."""
        ct = self._ct
        if self._jref:
            self._jitter += (abs(ct - self._jct) - self._jitter) * 0.0625
        self._jct, self._jref = ct, True
        if rtp_ts == self._fts and (rtp_ts != self._jfts or not self._fref):
            self._jfts = rtp_ts
            if self._fref:
                self._fjitter += (abs(ct - self._fct) - self._fjitter) * 0.0625
            self._fct, self._fref = ct, True

    def _store(self, ext: int, arrival: float, size: int) -> None:
        i = self._n % self._cap
        if i == 0 and self._n:
            self._wrap(arrival)
            i = self._n % self._cap
        self._n += 1
        self._arr[i] = arrival
        self._seq[i] = ext
        self._size[i] = size
        self._tr[i] = self._ct
        self._bytes += size
        self._last_arrival = arrival

    def _first_packet(self, seq: int, rtp_ts: int, arrival: float, size: int, exact: bool) -> None:
        self._fresh = False
        self._init_seq(seq)
        self._off = 0
        self._first_ext = seq
        self._restart_jitter(rtp_ts, arrival, exact)
        self._store(seq, arrival, size)

    def _restart_jitter(self, rtp_ts: int, arrival: float, exact: bool) -> None:
        """The filters' references start over from this packet (a new source)."""
        self._lt = arrival * self._rate - rtp_ts
        self._fts = self._jfts = rtp_ts
        self._jct = self._fct = self._ct
        self._jref = self._fref = exact

    def _init_seq(self, seq: int) -> None:
        self._base_seq = seq
        self._max_seq = seq
        self._bad_seq = SEQ_MOD + 1
        self._cycles = 0
        self._recv_at_init = self._n
        self._expected_prior = 0
        self._received_prior = 0

    def _late_before_base(self, rfc_ext: int) -> None:
        # Reordered ahead of the first packet we saw: it was expected after all. (RFC 3550
        # keeps base_seq and would count it as a negative loss.)
        self._first_ext -= self._base_seq - rfc_ext
        self._base_seq = rfc_ext

    def _jump(self, seq: int, rtp_ts: int, arrival: float, size: int, exact: bool) -> None:
        """A very large sequence jump (RFC 3550 A.1): re-base after two in a row."""
        if seq != self._bad_seq:
            # One stray packet must not re-base us: wait for its successor.
            self._bad_seq = (seq + 1) & 0xFFFF
            self._discarded += 1
            return
        # The source restarted (e.g. the camera rebooted): continue the extended space right
        # after the old highest number so nothing counts as lost, and restart the jitter
        # reference because the new timestamps have an unrelated origin.
        next_ext = self._off + self._cycles + self._max_seq + 1
        self._init_seq(seq)
        self._off = next_ext - seq
        self._epoch += 1
        self._restart_jitter(rtp_ts, arrival, exact)
        self._store(next_ext, arrival, size)

    # ---- per-frame and control events --------------------------------------------------

    def on_frame(self, rtp_ts: int, arrival: float, size: int, keyframe: bool) -> None:
        """Record one completed access unit."""
        if self._frame_epoch != self._epoch:
            self._frame_epoch = self._epoch
            self._last_key_ext = None
            ext = rtp_ts
        else:
            d = (rtp_ts - self._last_frame_raw) & 0xFFFFFFFF
            if d >= _TS_HALF:
                d -= _TS_MOD  # B-frames and wrap: timestamps step back by less than half
            ext = self._last_frame_ext + d
        self._last_frame_raw = rtp_ts
        self._last_frame_ext = ext
        if keyframe:
            self._keyframes += 1
            if self._last_key_ext is not None and ext > self._last_key_ext:
                self._last_gop_s = (ext - self._last_key_ext) / self._rate
            self._last_key_ext = ext
        i = self._nf % self._fcap
        if i == 0 and self._nf and self._fcap < self._max_fcap:
            if self._young(self._f_arr, arrival):
                self._grow_frames()
            i = self._nf % self._fcap
        self._nf += 1
        self._f_arr[i] = arrival
        self._f_ts[i] = ext
        self._f_size[i] = size
        self._f_key[i] = keyframe
        self._f_epoch[i] = self._epoch
        self._last_frame_arrival = arrival
        if self._first_frame is None:
            self._first_frame = arrival

    def _wrap(self, arrival: float) -> None:
        """The packet ring is full: grow it, or fold what is about to be
        overwritten into the drift floor (however rarely snapshots come)."""
        if self._cap < self._max_cap and self._young(self._arr, arrival):
            self._grow_packets()
        else:
            self._floor.feed(self._n, self._arr, self._tr)  # at a wrap: in order already

    def _young(self, ring: np.ndarray, arrival: float) -> bool:
        """At a wrap: would the record about to be overwritten (the oldest, at
        index 0) still be needed?"""
        return arrival - float(ring[0]) < _KEEP_WINDOWS * self._window

    def _grow_packets(self) -> None:
        cap = min(self._cap * 2, self._max_cap)
        self._arr, self._seq, self._size, self._tr = _regrow(
            self._n, self._cap, cap, (self._arr, self._seq, self._size, self._tr)
        )
        self._cap = cap

    def _grow_frames(self) -> None:
        cap = min(self._fcap * 2, self._max_fcap)
        rings = (self._f_arr, self._f_ts, self._f_size, self._f_key, self._f_epoch)
        self._f_arr, self._f_ts, self._f_size, self._f_key, self._f_epoch = _regrow(
            self._nf, self._fcap, cap, rings
        )
        self._fcap = cap

    def on_frame_dropped(self) -> None:
        self._frames_dropped += 1

    def mark_started(self, at: float) -> None:
        """PLAY was sent at `at` (monotonic): the next frame measures first-frame latency."""
        self._started = at
        self._first_frame = None

    def on_sender_report(self, ntp_time: float, rtp_ts: int, arrival: float, wall: float) -> None:
        """Record an RTCP sender report (ntp_time in unix seconds, wall = time.time()).

        rtp_ts is part of the report but none of the figures here needs it.
        """
        if not (math.isfinite(ntp_time) and math.isfinite(arrival) and math.isfinite(wall)):
            raise ValueError("sender report times must be finite numbers")
        self._srs.append((arrival, wall, ntp_time))

    # ---- clocks -------------------------------------------------------------------------

    def rtp_drift_ppm(self) -> float | None:
        """Camera RTP clock against the local monotonic clock, ppm (positive: camera fast).

        Up to date as of the last window()/snapshot(); None until 30 s of baseline.
        """
        return self._floor.drift_ppm(self._rate)

    def clock_offset_s(self) -> float | None:
        """Camera wall clock (latest SR) minus local wall clock, in seconds.

        Includes the SR's one-way network delay (ms on a LAN), which cannot be
        separated from the offset without the camera's help.
        """
        if not self._srs:
            return None
        _, wall, ntp = self._srs[-1]
        return ntp - wall

    def sr_drift_ppm(self) -> float | None:
        """Drift of the camera's SR wall clock against ours, ppm (positive: camera fast).

        The offset trend is measured against the local *monotonic* arrival time:
        on Linux it is frequency-disciplined like the wall clock but never steps,
        so a local NTP step cannot pose as camera drift. Theil-Sen (median of
        pairwise slopes) because each SR's offset carries its own network delay
        and a few delayed reports must not tilt the line.
        """
        if len(self._srs) < 3:
            return None
        pts = np.array(self._srs, dtype=np.float64)
        x = pts[:, 0]
        if x[-1] - x[0] < _MIN_SR_SPAN_S:
            return None
        slope = _theil_sen(x, pts[:, 2] - x)
        return None if slope is None else slope * 1e6

    def lsr_dlsr(self, now: float) -> tuple[int, int]:
        """LSR and DLSR of our RTCP receiver report (RFC 3550 6.4.1); (0, 0) before any SR."""
        if not self._srs:
            return 0, 0
        arrival, _, ntp = self._srs[-1]
        lsr = int((ntp + _NTP_UNIX_OFFSET) * 65536.0) & 0xFFFFFFFF
        dlsr = min(max(int((now - arrival) * 65536.0), 0), 0xFFFFFFFF)
        return lsr, dlsr

    # ---- RFC 3550 receiver report --------------------------------------------------------

    def report_block(self) -> tuple[float, int, int, int]:
        """(fraction_lost since the last call, cumulative_lost, extended_highest_seq, jitter).

        As RFC 3550 A.3 computes them for the current source incarnation (a
        re-base restarts the counts, as the RFC's init_seq does). fraction_lost
        is a float in [0, 1]: the RR field is int(fraction * 256). jitter is in
        RTP timestamp units, truncated as the RR carries it.
        """
        if self._fresh:
            return 0.0, 0, 0, 0
        extended_max = self._cycles + self._max_seq
        expected = extended_max - self._base_seq + 1
        received = self._n - self._recv_at_init
        lost = max(-0x800000, min(expected - received, 0x7FFFFF))
        expected_interval = expected - self._expected_prior
        received_interval = received - self._received_prior
        self._expected_prior = expected
        self._received_prior = received
        lost_interval = expected_interval - received_interval
        fraction = 0.0
        if expected_interval > 0 and lost_interval > 0:
            fraction = lost_interval / expected_interval
        return fraction, lost, extended_max & 0xFFFFFFFF, int(self._jitter)

    # ---- snapshots ----------------------------------------------------------------------

    @property
    def jitter_ms(self) -> float:
        """RFC 3550 interarrival jitter now, in milliseconds."""
        return self._jitter / self._rate * 1000.0

    @property
    def frame_jitter_ms(self) -> float:
        """Interarrival jitter of frames (first packet of each timestamp), in ms."""
        return self._fjitter / self._rate * 1000.0

    @property
    def frames_dropped(self) -> int:
        """Frames lost so far (to gaps, or skipped while waiting for a keyframe)."""
        return self._frames_dropped

    @property
    def last_gop_s(self) -> float | None:
        """The last keyframe interval seen, in seconds (None before two keyframes)."""
        return self._last_gop_s

    @property
    def discarded(self) -> int:
        """Packets ignored as strays: a huge sequence jump not confirmed by its successor."""
        return self._discarded

    def window(self, now: float) -> WindowFigures:
        """The figures of the window ending at `now` (monotonic seconds)."""
        start = now - self._window
        arr, seq, size, tr = _chronological(
            self._n, self._cap, (self._arr, self._seq, self._size, self._tr)
        )
        lo = int(np.searchsorted(arr, start, side="left"))
        # arr[0] is the first packet ever, or the oldest still held after overwriting.
        duration = max(0.0, min(self._window, now - float(arr[0]))) if arr.size else 0.0
        expected, lost = self._window_loss(seq, lo)
        nbytes = int(size[lo:].sum())
        bitrate = nbytes * 8.0 / duration if duration > 0 else 0.0
        frames, fps, source, gop, key_bytes = self._frame_figures(now, start)
        self._floor.feed(self._n, arr, tr)
        return WindowFigures(
            duration_s=duration,
            packets=int(arr.size - lo),
            expected=expected,
            lost=lost,
            loss_ratio=lost / expected if expected > 0 else 0.0,
            bytes=nbytes,
            bitrate_bps=bitrate,
            frames=frames,
            fps=fps,
            fps_source=source,
            gop_s=gop,
            keyframe_bytes=key_bytes,
        )

    def pulse(self, now: float) -> Pulse:
        """The running counters, in O(1): enough to tell whether a snapshot
        (which reads the whole window) can bring news."""
        return Pulse(
            now,
            self._n,
            self._cumulative_lost(),
            self._nf,
            self._frames_dropped,
            self._bytes,
            self.frame_jitter_ms,
            self._last_gop_s,
        )

    def snapshot(self, now: float) -> StreamStats:
        """All figures at `now` (monotonic seconds) as the immutable StreamStats."""
        w = self.window(now)
        drift = self._floor.drift_ppm(self._rate)
        if drift is None:
            drift = self.sr_drift_ppm()
        return StreamStats(
            packets_received=self._n,
            packets_lost=self._cumulative_lost(),
            loss_ratio=w.loss_ratio,
            jitter_ms=self.jitter_ms,
            frame_jitter_ms=self.frame_jitter_ms,
            fps=w.fps,
            bitrate_bps=w.bitrate_bps,
            gop_s=w.gop_s,
            since_last_packet_s=_since(now, self._last_arrival),
            since_last_frame_s=_since(now, self._last_frame_arrival),
            first_frame_ms=self._first_frame_ms(),
            clock_drift_ppm=drift,
            frames=self._nf,
            keyframes=self._keyframes,
            frames_dropped=self._frames_dropped,
            bytes_received=self._bytes,
        )

    def _cumulative_lost(self) -> int:
        # Duplicates count as received (as in RFC 3550), so they can mask losses; never < 0.
        if self._fresh:
            return 0
        max_ext = self._off + self._cycles + self._max_seq
        return max(0, max_ext - self._first_ext + 1 - self._n)

    def _first_frame_ms(self) -> float | None:
        if self._started is None or self._first_frame is None:
            return None
        return (self._first_frame - self._started) * 1000.0

    def _window_loss(self, seq: np.ndarray, lo: int) -> tuple[int, int]:
        """(expected, lost) for the packets from chronological index lo on.

        The window expects every number above the highest one seen before it
        started, up to the highest seen now. A late packet belonging before that
        line was already judged by the previous window and is ignored; inside
        the window duplicates collapse, so a reordered packet is neither lost
        nor counted twice.
        """
        if self._fresh or lo >= seq.size:
            return 0, 0
        if lo > 0:
            line = int(seq[:lo].max())
        elif self._n <= self._cap:
            line = self._first_ext - 1
        else:
            line = int(seq[0]) - 1  # overwritten: the oldest record we still hold starts it
        max_ext = self._off + self._cycles + self._max_seq
        expected = max(0, max_ext - line)
        fresh = np.sort(seq[lo:][seq[lo:] > line])
        received = int(fresh.size and 1 + np.count_nonzero(np.diff(fresh)))
        return expected, max(0, expected - received)

    def _frame_figures(
        self, now: float, start: float
    ) -> tuple[int, float, str, float | None, int | None]:
        """(frames, fps, fps source, gop_s, keyframe_bytes) over the window."""
        arr, ts, size, key, epoch = _chronological(
            self._nf,
            self._fcap,
            (self._f_arr, self._f_ts, self._f_size, self._f_key, self._f_epoch),
        )
        lo = int(np.searchsorted(arr, start, side="left"))
        arr, ts, size, key, epoch = arr[lo:], ts[lo:], size[lo:], key[lo:], epoch[lo:]
        frames = int(arr.size)
        current = epoch == self._epoch
        fps, source = self._fps(now, arr, arr[current], ts[current])
        kts = np.sort(ts[current & key])
        steps = np.diff(kts)
        steps = steps[steps > 0]
        gop = float(np.median(steps)) / self._rate if steps.size else self._last_gop_s
        key_bytes = int(np.median(size[key])) if key.any() else None
        return frames, fps, source, gop, key_bytes

    def _fps(
        self, now: float, arr: np.ndarray, arr_cur: np.ndarray, ts: np.ndarray
    ) -> tuple[float, str]:
        """Frames per second: camera clock when its timestamps are sane, else local.

        RTP timestamps are stamped at capture, so their span measures the camera's
        frame rate free of network jitter; they are trusted only when that span
        roughly agrees with the local one (a bogus clock rate or a timestamp jump
        would not). When the stream has gone quiet the RTP span stops growing, so
        a stall is folded in by dividing the count by the window's real duration.
        """
        if arr.size == 0:
            return 0.0, "none"
        distinct = int(np.unique(ts).size)
        fps, source = 0.0, "none"
        if distinct >= 2:
            rtp_span = float(ts.max() - ts.min()) / self._rate
            cur_span = float(arr_cur[-1] - arr_cur[0])
            if rtp_span > 0 and abs(rtp_span - cur_span) <= 0.5 * max(rtp_span, cur_span) + 0.5:
                fps, source = (distinct - 1) / rtp_span, "rtp"
        arr_span = float(arr[-1] - arr[0])
        if source == "none" and arr.size >= 2 and arr_span > 0:
            fps, source = (arr.size - 1) / arr_span, "arrival"
        if source == "none" or now - float(arr[-1]) > max(3.0 / fps, 0.5):
            duration = min(self._window, now - self._oldest_frame_held())
            count = distinct if source == "rtp" else int(arr.size)
            if duration > 0:
                return count / duration, "arrival"
        return fps, source

    def _oldest_frame_held(self) -> float:
        # The stream's first frame, or the oldest one still in the ring after overwriting.
        return float(self._f_arr[self._nf % self._fcap if self._nf > self._fcap else 0])


def _since(now: float, then: float | None) -> float | None:
    return None if then is None else max(0.0, now - then)


def _chronological(n: int, cap: int, rings: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """The rings' records oldest first (views when nothing wrapped)."""
    if n <= cap:
        return tuple(r[:n] for r in rings)
    i = n % cap
    return tuple(np.concatenate((r[i:], r[:i])) for r in rings)


def _regrow(
    n: int, cap: int, new_cap: int, rings: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """The rings' records moved into rings of new_cap, record k at k % new_cap."""
    held = min(n, cap)
    where = np.arange(n - held, n) % new_cap
    out = []
    for ring, chrono in zip(rings, _chronological(n, cap, rings), strict=True):
        grown = np.zeros(new_cap, dtype=ring.dtype)
        grown[where] = chrono
        out.append(grown)
    return tuple(out)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float | None:
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    ok = dx > 0
    if not ok.any():
        return None
    return float(np.median((y[j] - y[i])[ok] / dx[ok]))


class _TransitFloor:
    """The lower envelope of transit, one point per second, over a long baseline.

    Transit (arrival in RTP units minus the timestamp) is the network delay
    plus the clocks' offset; its trend is the drift. Delay noise is one-sided:
    queues only ever add delay, and packets sent later within a frame carry
    the frame's timestamp, so raw transit is a cloud above a floor. The floor
    (least-delayed packet of each second) tracks the clocks alone. Even so a
    floor point wanders by a fraction of a millisecond, which over a 10 s
    window still reads as tens of ppm, so the points are kept for minutes
    (camera crystals drift by tens of ppm: a 15 min baseline resolves well
    under one). A Theil-Sen line through the minima of a few dozen groups
    ignores the odd stretch where every packet was held up, which a
    least-squares fit of all packets would follow.
    """

    __slots__ = ("_done", "_drift", "_drift_n", "_n", "_origin", "_x", "_y")

    def __init__(self, capacity: int) -> None:
        self._x = np.zeros(capacity, dtype=np.float64)
        self._y = np.zeros(capacity, dtype=np.float64)
        self._n = 0
        self._done = 0  # packets (by global count) already folded into points
        self._origin: float | None = None
        # The line through minutes of points moves slowly: refit it every
        # _DRIFT_REFIT new points, not at each snapshot (the fit was half
        # of a snapshot's cost).
        self._drift: float | None = None
        self._drift_n = -1

    def feed(self, total: int, arrival: np.ndarray, transit: np.ndarray) -> None:
        """Fold in the records not seen yet (the last `arrival.size` of `total`, oldest first).

        Only whole seconds are folded: the open second waits for the next call.
        Records overwritten before a call are simply missing from the envelope.
        """
        first = total - arrival.size
        skip = max(self._done, first) - first
        a, t = arrival[skip:], transit[skip:]
        if a.size == 0:
            return
        if self._origin is None:
            self._origin = float(a[0])
        ids = np.floor((a - self._origin) / _FLOOR_BIN_S).astype(np.int64)
        closed = int(np.searchsorted(ids, ids[-1], side="left"))
        if closed == 0:
            return
        starts = np.flatnonzero(np.diff(ids[:closed], prepend=ids[0] - 1))
        for s, e in itertools.pairwise([*starts.tolist(), closed]):
            k = s + int(np.argmin(t[s:e]))
            self._push(float(a[k]), float(t[k]))
        self._done = first + skip + closed

    def _push(self, x: float, y: float) -> None:
        i = self._n % self._x.size
        self._x[i] = x
        self._y[i] = y
        self._n += 1

    def drift_ppm(self, rate: float) -> float | None:
        n = self._n
        if n != self._drift_n and (self._drift is None or n - self._drift_n >= _DRIFT_REFIT):
            self._drift = self._fit(rate)
            self._drift_n = n
        return self._drift

    def _fit(self, rate: float) -> float | None:
        x, y = _chronological(self._n, self._x.size, (self._x, self._y))
        if x.size < 3 or x[-1] - x[0] < _MIN_DRIFT_SPAN_S:
            return None
        edges = np.linspace(0, x.size, min(_DRIFT_GROUPS, x.size) + 1).astype(np.int64)
        gx: list[float] = []
        gy: list[float] = []
        for a, b in itertools.pairwise(edges.tolist()):
            if b > a:
                k = a + int(np.argmin(y[a:b]))
                gx.append(float(x[k]))
                gy.append(float(y[k]))
        slope = _theil_sen(np.array(gx), np.array(gy))
        # transit = local * rate - camera * rate, so a fast camera clock makes it fall.
        return None if slope is None else -slope / rate * 1e6
