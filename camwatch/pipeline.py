"""The per-camera media path: RTP bytes in, statistics and sampled frames out.

Runs synchronously inside the transport's data callback, so it does the
least per packet: read the header, update the statistics ring buffers, and
skim the frame structure from the NAL headers (skim.py). The depacketizer
assembles a unit's bytes only when it may be the keyframe to sample; one
keyframe per sampling interval leaves the loop, to the shared decode pool.

Sampling adapts to what the analysis finds: a camera whose picture is healthy
(baseline learned, no image condition active, nothing jumped since the last
sample, for a few samples running) is sampled every `healthy_sample_interval`;
anything else puts it back on `sample_interval` at once, so a fault is
confirmed at the full rate. Decoding and analysing keyframes is most of a
fleet's CPU, and most cameras are healthy most of the time.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .decode import Decoded, DecodeError, DecodePool, Decoders, KeyframeDecoder
from .rtp import h264, h265
from .rtp.packet import RtpError, RtpPacket, parse_rtp
from .rtp.params import h264_sprop_nals, h265_sprop_nals
from .rtp.rtcp import parse_rtcp
from .rtp.sps import SpsError, SpsInfo, parse_h264_sps, parse_h265_sps
from .rtsp.sdp import MediaTrack
from .sizeguard import SizeGuard
from .skim import FrameSkimmer
from .state import DecodeStats, FrameSample, StreamInfo
from .stats import StreamStatsTracker

log = logging.getLogger("camwatch.pipeline")

# A frame hook runs in the decode thread right after decoding: it applies
# privacy masks and analysis, and returns the (masked) sample plus a result.
FrameHook = Callable[[FrameSample], tuple[FrameSample, Any]]


@dataclass(frozen=True, slots=True)
class Sampled:
    sample: FrameSample
    analysis: Any
    decoded: Decoded


_SEQ_TS_SSRC = struct.Struct("!HII")
CLEAN_SAMPLES = 3  # healthy samples in a row before a camera is sampled less often
# A figure that moves this much between two samples may be a fault starting
# (a lens going soft, a light failing): sample the next keyframe to confirm.
SHARPNESS_JUMP = 1.5  # ratio, either way
LUMA_JUMP = 20.0  # levels


def codec_of(track: MediaTrack) -> str:
    return "h264" if track.encoding == "H264" else "h265"


class MediaPipeline:
    """MediaSink for one session; rebuilt on every reconnect."""

    def __init__(
        self,
        camera: str,
        track: MediaTrack,
        pool: DecodePool,
        *,
        sample_interval: float = 1.0,
        healthy_sample_interval: float | None = None,
        gray_width: int = 320,
        rgb_width: int = 160,
        frame_hook: FrameHook | None = None,
        on_sample: Callable[[Sampled], None] | None = None,
        on_closed: Callable[[BaseException | None], None] | None = None,
        decoder: KeyframeDecoder | None = None,
        skim: bool = True,
    ) -> None:
        """skim False: every packet goes through the depacketizer (as a reference)."""
        self.camera = camera
        self.track = track
        self.codec = codec_of(track)
        sprop = (h264_sprop_nals if self.codec == "h264" else h265_sprop_nals)(track.fmtp)
        self._sprop = list(sprop)
        self.depack = self._depacketizer(self._sprop)
        self.stats = StreamStatsTracker(track.clock_rate)
        # Packets of frames nobody decodes are skimmed (see skim.py); the
        # depacketizer assembles a unit only when a keyframe may be sampled.
        self.skim = skim
        # A camera sampled rarely while healthy: its frame sizes say when to
        # look again sooner (sizeguard.py). Without that schedule, no guard.
        healthy = healthy_sample_interval
        guarded = healthy is not None and healthy > sample_interval
        self._guard = SizeGuard(lost=self._frames_lost) if guarded else None
        self.guard_trips = 0
        self._skim = FrameSkimmer(
            self.codec, self._on_frame if guarded else self.stats.on_frame,
            self.stats.on_frame_dropped,
            self.depack.starts_picture,  # the same test of a picture start after a gap
        )  # fmt: skip
        self._assembling = not skim
        self._resyncing = False  # the skimmer was waiting for a keyframe when assembly began
        self.sps = _sps_from(self.codec, sprop)
        self.pool = pool
        self.base_interval = sample_interval
        self.healthy_interval = healthy_sample_interval
        self.sample_interval = sample_interval  # the one in force (see _adapt)
        self._clean = 0  # healthy samples in a row
        self._last_figures: tuple[float, float] | None = None  # (sharpness, luma) of the last
        self.gray_width, self.rgb_width = gray_width, rgb_width
        self.frame_hook = frame_hook
        self.on_sample = on_sample
        self._on_closed = on_closed
        self._decoder = decoder
        self.last_packet: float | None = None
        self.first_packet: float | None = None
        self.rtp_errors = 0
        self.foreign_packets = 0
        self._units_dropped = 0
        self._last_sample_at = -1e9
        self._last_done_at = 0.0  # monotonic time of the last sample delivered
        self.sample_period: float | None = None  # smoothed time between samples
        self._period_from_next = False  # the schedule changed between two samples
        self._keyframes_decoded = 0
        self._decode_errors = 0
        self._skipped = 0
        self._last_decode_ms: float | None = None
        self.last_sr: tuple[int, float] | None = None  # (middle 32 bits of NTP, monotonic)
        self.closed: BaseException | None = None
        self.ssrc: int | None = None

    # -- MediaSink -------------------------------------------------------
    def on_rtp(self, data: bytes) -> None:
        self._packet(data, time.monotonic())

    def on_rtp_run(
        self, payloads: list[bytes], newest: bool = True, at: float | None = None
    ) -> None:
        """Packets read from the socket at once, the read's newest byte having
        arrived `at` (None: now): only the newest packet's arrival is known
        (newest False: something came after it, an RTCP packet or part of a
        frame); see StreamStatsTracker.on_packet."""
        now = time.monotonic() if at is None else at
        packet = self._packet
        for data in payloads[:-1]:
            packet(data, now, False)
        packet(payloads[-1], now, newest)

    def _packet(self, data: bytes, now: float, exact: bool = True) -> None:
        if type(data) is bytes and len(data) >= 12 and data[0] == 0x80:
            # The plain header every camera sends (no CSRC, extension or padding),
            # read in place: no packet object for a packet that is only skimmed.
            b1 = data[1]
            seq, ts, ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
            pt, marker, payload = b1 & 0x7F, b1 >= 0x80, data[12:]
        else:
            try:
                pkt = parse_rtp(data)
            except RtpError:
                self.rtp_errors += 1
                return
            pt, marker, payload = pkt.payload_type, pkt.marker, pkt.payload
            seq, ts, ssrc = pkt.seq, pkt.timestamp, pkt.ssrc
        if pt != self.track.payload_type:
            self.foreign_packets += 1
            return
        if self.first_packet is None:
            self.first_packet = now
        self.last_packet = now
        if ssrc != self.ssrc:
            if self.ssrc is not None:
                self._skim.lose_stream()
            self.ssrc = ssrc
        self.stats.on_packet(seq, ts, now, len(payload), exact)
        if self._assembling:
            self._assemble(RtpPacket(pt, marker, seq, ts, ssrc, payload), now)
            return
        skim = self._skim
        if (
            ts != skim.unit_ts
            and now - self._last_sample_at >= self.sample_interval * 0.95
            and skim.may_open_keyframe(payload)
        ):
            # A unit that may be the keyframe to sample: assemble it.
            if not skim.hand_over(seq, ts, now):
                return
            self.depack = self._depacketizer(self._sprop + list(skim.params.values()))
            self._units_dropped = 0
            self._resyncing = skim.waiting_key
            self._assembling = True
            self._assemble(RtpPacket(pt, marker, seq, ts, ssrc, payload), now)
            return
        skim.push(seq, ts, marker, payload, now)

    def _assemble(self, pkt: RtpPacket, now: float) -> None:
        """The depacketizer's path: the unit's bytes assembled, keyframes sampled."""
        stats = self.stats
        units = self.depack.push(pkt)
        dropped = self.depack.units_dropped - self._units_dropped
        if dropped:
            for _ in range(dropped):
                stats.on_frame_dropped()
            self._units_dropped += dropped
        for au in units:
            if self._resyncing and not au.keyframe:
                # The skimmer had lost sync: like the one depacketizer it stands
                # for, it drops units until a keyframe.
                stats.on_frame_dropped()
                self._skim.skipped_while_waiting()
                continue
            self._resyncing = False
            self._on_frame(au.rtp_timestamp, now, au.size, au.keyframe)
            if au.keyframe:
                self._maybe_sample(au.data, au.rtp_timestamp, now)
        if self.skim and (units or dropped):
            # The unit is done (or lost): back to skimming. A unit that ends on
            # a packet without the marker bit was ended by a new timestamp: this
            # packet opened the next unit, which the skimmer takes from it.
            self._assembling = False
            skim = self._skim
            d = self.depack
            skim.keep_params([getattr(d, "vps", None), d.sps, d.pps])
            waiting = self._resyncing or (dropped > 0 and not units)
            if pkt.marker:
                skim.resume((pkt.seq + 1) & 0xFFFF, waiting)
            else:
                skim.resume(pkt.seq, waiting)
                skim.push(pkt.seq, pkt.timestamp, pkt.marker, pkt.payload, now)

    def _depacketizer(self, sprop: list[bytes]) -> h264.H264Depacketizer | h265.H265Depacketizer:
        if self.codec == "h264":
            return h264.H264Depacketizer(sprop)
        return h265.H265Depacketizer(sprop)

    def on_rtcp(self, data: bytes, exact: bool = True, at: float | None = None) -> None:
        """exact False: later packets came in the same read, so this one's
        arrival is not known: its report is kept for our receiver reports but
        its timing stays out of the clock-drift figures (a read's time instead
        would read as hundreds of ppm over a short span). at: when the read's
        newest byte arrived (None: now)."""
        mono, wall = time.monotonic(), time.time()
        now = mono if at is None else at
        wall -= mono - now
        for sr in parse_rtcp(data):
            if exact:
                self.stats.on_sender_report(sr.ntp_time, sr.rtp_timestamp, now, wall)
            self.last_sr = (sr.ntp_middle32, now)

    def on_closed(self, error: BaseException | None) -> None:
        if self.closed is None:
            self.closed = error or ConnectionError("connection closed")
            if self._on_closed is not None:
                self._on_closed(self.closed)

    # -- sampling ----------------------------------------------------------
    def _on_frame(self, rtp_ts: int, arrival: float, size: int, key: bool) -> None:
        """Every complete frame, skimmed or assembled: statistics, then the guard."""
        self.stats.on_frame(rtp_ts, arrival, size, key)
        guard = self._guard
        if guard is not None and guard.on_frame(size, key):
            self._guard_tripped(guard)

    def _frames_lost(self) -> int:
        """Frames lost so far: the guard skips a GOP that lost any (read per GOP)."""
        return self.stats.frames_dropped

    def _guard_tripped(self, guard: SizeGuard) -> None:
        """The frame sizes changed: back to the full rate at once (the next
        keyframe is sampled), so the analysis confirms or clears it soon."""
        self.guard_trips += 1
        self._clean = 0
        if self._switch_schedule(self.base_interval):
            # Between two samples: the gap before the next one belongs to the
            # healthy schedule and would read as a fleet too busy to sample.
            self._period_from_next = True
        log.debug("%s: frame sizes changed (%s)", self.camera, guard.last_trip)

    def _maybe_sample(self, data: bytes, rtp_ts: int, now: float) -> None:
        if now - self._last_sample_at < self.sample_interval * 0.95:
            return
        if self.sps is None:
            self._learn_sps()
        pts_s = rtp_ts / self.track.clock_rate
        # Offered to the fleet's pool: it replaces our keyframe still waiting
        # there (that one then counts as skipped), and serves the camera that
        # has waited longest since its last sample first.
        fut = self.pool.offer(
            self, lambda decoders: self._decode_job(decoders, data, pts_s), self._last_done_at
        )
        if fut is None:
            self._skipped += 1
            return
        self._last_sample_at = now
        fut.add_done_callback(self._decoded)

    def _decode_job(self, decoders: Decoders, data: bytes, pts_s: float) -> Sampled:
        decoder = self._decoder
        if decoder is None:
            sps = self.sps
            size = (sps.width, sps.height) if sps else None
            decoder = decoders.get(self.codec, self.gray_width, self.rgb_width, size)
        decoded = decoder.decode(data)
        sample = FrameSample(self.camera, time.time(), pts_s, decoded.gray, decoded.rgb)
        analysis = None
        if self.frame_hook is not None:
            self.pool.yield_to_loop()
            sample, analysis = self.frame_hook(sample)
        return Sampled(sample, analysis, decoded)

    def _decoded(self, fut: asyncio.Future) -> None:
        if fut.cancelled():
            self._skipped += 1  # superseded by a newer keyframe, or shutting down
            return
        exc = fut.exception()
        if exc is not None:
            self._decode_errors += 1
            if not isinstance(exc, DecodeError):
                log.warning("%s: frame processing failed: %r", self.camera, exc)
            return
        result: Sampled = fut.result()
        now = time.monotonic()
        if self._period_from_next:
            self._period_from_next = False
        elif self._last_done_at > 0:
            period = now - self._last_done_at
            prev = self.sample_period
            self.sample_period = period if prev is None else prev + 0.3 * (period - prev)
        self._last_done_at = now
        self._keyframes_decoded += 1
        self._last_decode_ms = result.decoded.decode_ms
        self._adapt(result.analysis)
        if self.on_sample is not None:
            self.on_sample(result)

    def _adapt(self, analysis: Any) -> None:
        """Choose the interval for the next samples from this sample's analysis."""
        healthy = self.healthy_interval
        if not healthy or healthy <= self.base_interval:
            return
        self._clean = self._clean + 1 if self._healthy(analysis) else 0
        self._switch_schedule(healthy if self._clean >= CLEAN_SAMPLES else self.base_interval)

    def _switch_schedule(self, interval: float) -> bool:
        """Sample every `interval` from now on; False if that was the schedule."""
        if interval == self.sample_interval:
            return False
        self.sample_interval = interval
        self.sample_period = None  # measure the new schedule afresh, not a blend
        return True

    def _healthy(self, analysis: Any) -> bool:
        """No image condition active or pending in this sample's analysis.

        Without an analysis (no analyzer) nothing says the picture is fine.
        Pending: the baseline is still being learned (it needs samples at the
        full rate), or sharpness or brightness jumped since the last sample.
        """
        conditions = getattr(analysis, "conditions", None)
        if conditions is None:
            return False
        figures = (
            float(getattr(analysis, "sharpness", 0.0)),
            float(getattr(analysis, "luma_mean", 0.0)),
        )
        last, self._last_figures = self._last_figures, figures
        if not getattr(analysis, "baseline_ready", True) or any(c.active for c in conditions):
            return False
        return last is None or not _jumped(last, figures)

    def sampling_period(self, now: float) -> float | None:
        """Smoothed seconds between samples, stretched by the time since the
        last one when that is longer (a camera no longer sampled shows it)."""
        if self.sample_period is None:
            return None
        return max(self.sample_period, now - self._last_done_at)

    def _learn_sps(self) -> None:
        nal = getattr(self.depack, "sps", None)
        if nal:
            self.sps = _sps_from(self.codec, [nal])

    # -- figures -----------------------------------------------------------
    def decode_stats(self) -> DecodeStats:
        return DecodeStats(
            keyframes_decoded=self._keyframes_decoded,
            decode_errors=self._decode_errors,
            samples_skipped=self._skipped,
            last_decode_ms=self._last_decode_ms,
            guard_trips=self.guard_trips,
        )

    def stream_info(self, transport: str, decoded: Decoded | None = None) -> StreamInfo:
        sps = self.sps
        width = decoded.width if decoded else (sps.width if sps else None)
        height = decoded.height if decoded else (sps.height if sps else None)
        return StreamInfo(
            codec=self.codec,
            payload_type=self.track.payload_type,
            clock_rate=self.track.clock_rate,
            profile=sps.profile if sps else None,
            level=sps.level if sps else None,
            width=width,
            height=height,
            transport=transport,
        )

    def release(self) -> None:
        """Drop the decoder; a job in flight keeps its own reference."""
        self._decoder = None


def _jumped(last: tuple[float, float], now: tuple[float, float]) -> bool:
    (sharp0, luma0), (sharp1, luma1) = last, now
    if abs(luma1 - luma0) > LUMA_JUMP:
        return True
    if sharp0 <= 0.0 or sharp1 <= 0.0:
        return (sharp0 <= 0.0) != (sharp1 <= 0.0)
    return max(sharp0 / sharp1, sharp1 / sharp0) > SHARPNESS_JUMP


def _sps_from(codec: str, nals: list[bytes]) -> SpsInfo | None:
    parse = parse_h264_sps if codec == "h264" else parse_h265_sps
    for nal in nals:
        kind = (nal[0] & 0x1F) if codec == "h264" else ((nal[0] >> 1) & 0x3F)
        if kind == (7 if codec == "h264" else 33):
            try:
                return parse(nal)
            except (SpsError, IndexError, ValueError):
                return None
    return None
