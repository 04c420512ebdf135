"""The per-camera media path: RTP bytes in, statistics and sampled frames out.

Runs synchronously inside the transport's data callback, so it does the
least per packet: parse the header, update the statistics ring buffers, feed
the depacketizer. Only one keyframe per sampling interval leaves the loop, to
the shared decode pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .decode import Decoded, DecodeError, DecodePool, Decoders, KeyframeDecoder
from .rtp import h264, h265
from .rtp.packet import RtpError, parse_rtp
from .rtp.params import h264_sprop_nals, h265_sprop_nals
from .rtp.rtcp import parse_rtcp
from .rtp.sps import SpsError, SpsInfo, parse_h264_sps, parse_h265_sps
from .rtsp.sdp import MediaTrack
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
        gray_width: int = 320,
        rgb_width: int = 160,
        frame_hook: FrameHook | None = None,
        on_sample: Callable[[Sampled], None] | None = None,
        on_closed: Callable[[BaseException | None], None] | None = None,
        decoder: KeyframeDecoder | None = None,
    ) -> None:
        self.camera = camera
        self.track = track
        self.codec = codec_of(track)
        sprop = (h264_sprop_nals if self.codec == "h264" else h265_sprop_nals)(track.fmtp)
        self.depack = (
            h264.H264Depacketizer(sprop) if self.codec == "h264" else h265.H265Depacketizer(sprop)
        )
        self.stats = StreamStatsTracker(track.clock_rate)
        self.sps = _sps_from(self.codec, sprop)
        self.pool = pool
        self.sample_interval = sample_interval
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
        self._keyframes_decoded = 0
        self._decode_errors = 0
        self._skipped = 0
        self._last_decode_ms: float | None = None
        self.last_sr: tuple[int, float] | None = None  # (middle 32 bits of NTP, monotonic)
        self.closed: BaseException | None = None
        self.ssrc: int | None = None

    # -- MediaSink -------------------------------------------------------
    def on_rtp(self, data: bytes) -> None:
        now = time.monotonic()
        try:
            pkt = parse_rtp(data)
        except RtpError:
            self.rtp_errors += 1
            return
        if pkt.payload_type != self.track.payload_type:
            self.foreign_packets += 1
            return
        if self.first_packet is None:
            self.first_packet = now
        self.last_packet = now
        self.ssrc = pkt.ssrc
        stats = self.stats
        stats.on_packet(pkt.seq, pkt.timestamp, now, len(pkt.payload))
        units = self.depack.push(pkt)
        dropped = self.depack.units_dropped
        if dropped != self._units_dropped:
            for _ in range(dropped - self._units_dropped):
                stats.on_frame_dropped()
            self._units_dropped = dropped
        for au in units:
            stats.on_frame(au.rtp_timestamp, now, au.size, au.keyframe)
            if au.keyframe:
                self._maybe_sample(au.data, au.rtp_timestamp, now)

    def on_rtcp(self, data: bytes) -> None:
        now, wall = time.monotonic(), time.time()
        for sr in parse_rtcp(data):
            self.stats.on_sender_report(sr.ntp_time, sr.rtp_timestamp, now, wall)
            self.last_sr = (sr.ntp_middle32, now)

    def on_closed(self, error: BaseException | None) -> None:
        if self.closed is None:
            self.closed = error or ConnectionError("connection closed")
            if self._on_closed is not None:
                self._on_closed(self.closed)

    # -- sampling ----------------------------------------------------------
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
        if self._last_done_at > 0:
            period = now - self._last_done_at
            prev = self.sample_period
            self.sample_period = period if prev is None else prev + 0.3 * (period - prev)
        self._last_done_at = now
        self._keyframes_decoded += 1
        self._last_decode_ms = result.decoded.decode_ms
        if self.on_sample is not None:
            self.on_sample(result)

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
