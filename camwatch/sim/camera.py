"""One simulated camera at run time: its loop, its faults and its playing clients.

The server's ticker calls `SimCamera.tick` once per frame interval; the camera
picks the next access unit of its current loop and hands it to every playing
`Sink`, which builds the RTP headers for its own client and writes the whole
frame at once. Nothing here awaits: a tick is plain function calls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from collections import deque
from dataclasses import replace
from typing import Any

from .auth import Credentials
from .encoder import AccessUnit, EncodedLoop, LoopCache, LoopSpec
from .events import Light
from .faults import IMAGE_FAULTS, LossModel, Occurrence
from .scenario import CameraSpec
from .sdp import PAYLOAD_TYPE

log = logging.getLogger("camwatch.sim")

_RTP = struct.Struct("!BBHII")
_TCP_RTP = struct.Struct("!BBHBBHII")  # '$', channel, length, then the RTP header
_SR = struct.Struct("!BBHIIIIII")
_NTP_EPOCH = 2_208_988_800
SR_INTERVAL = 5.0  # seconds between RTCP sender reports per client
_MAX_JITTER_TIMERS = 256
_AFTER = 1e-4  # seconds between two delayed frames, at least


class Sink:
    """Where one playing session's RTP goes, with its own sequence numbers."""

    def __init__(self, session_id: str, ssrc: int, seq: int, rng: random.Random) -> None:
        self.session_id = session_id
        self.ssrc = ssrc
        self.seq = seq & 0xFFFF
        self.rng = rng
        self.waiting_key = True  # start (and restart after drops) at a keyframe
        self.recovering = False
        self.packets_sent = 0
        self.octets_sent = 0
        self.packets_dropped = 0  # not sent because the client's buffer was full
        self.packets_lost = 0  # not sent because of a packet_loss fault
        self.last_sr = 0.0
        self.loss: LossModel | None = None
        self.loss_key: tuple[float, float] | None = None
        self.jitter = 0.0  # seconds
        self._next_send_at = 0.0
        self._timers: deque[asyncio.TimerHandle] = deque()

    # -- subclass hooks ------------------------------------------------------
    def congested(self) -> bool:
        raise NotImplementedError

    def write_frame(self, timestamp: int, items: list[tuple[int, int, bytes]]) -> None:
        """Send one frame's packets: (sequence number, marker|PT byte, payload)."""
        raise NotImplementedError

    def write_rtcp(self, data: bytes) -> None:
        raise NotImplementedError

    def closed(self) -> bool:
        raise NotImplementedError

    # -- sending -------------------------------------------------------------
    def deliver(self, unit: AccessUnit, timestamp: int) -> None:
        count = len(unit.payloads)
        if self.waiting_key:
            if not unit.keyframe:
                if self.recovering:
                    self._skip(count)
                return
            self.waiting_key = self.recovering = False
        if self.congested():
            self._skip(count)
            self.waiting_key = self.recovering = True
            return
        items: list[tuple[int, int, bytes]] = []
        last = count - 1
        loss = self.loss
        seq = self.seq
        for i, payload in enumerate(unit.payloads):
            if loss is not None and loss.lost():
                self.packets_lost += 1
            else:
                items.append((seq, (0x80 | PAYLOAD_TYPE) if i == last else PAYLOAD_TYPE, payload))
            seq = (seq + 1) & 0xFFFF
        self.seq = seq
        self.packets_sent += len(items)
        self.octets_sent += sum(len(item[2]) for item in items)
        if not items:
            return
        # Frames still held back when a jitter fault ends go first: sending the
        # next frame at once would overtake them (reordering is not this fault).
        if self.jitter > 0 or self._holding():
            self._send_later(timestamp, items)
        else:
            self.write_frame(timestamp, items)

    def _skip(self, count: int) -> None:
        self.packets_dropped += count
        self.seq = (self.seq + count) & 0xFFFF

    def _holding(self) -> bool:
        """True while some delayed frame is still waiting to be sent."""
        return bool(self._timers)

    def _send_later(self, timestamp: int, items: list[tuple[int, int, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        if len(self._timers) >= _MAX_JITTER_TIMERS:
            self.packets_dropped += len(items)
            return
        # Frames are delayed, never reordered: asyncio runs timers due at the same
        # instant in no set order, so each frame is due strictly after the last.
        at = max(loop.time() + self.rng.uniform(0.0, self.jitter), self._next_send_at + _AFTER)
        self._next_send_at = at
        self._timers.append(loop.call_at(at, self._send_now, timestamp, items))

    def _send_now(self, timestamp: int, items: list[tuple[int, int, bytes]]) -> None:
        # Due times strictly increase, so the timer firing is the oldest one held.
        if self._timers:
            self._timers.popleft()
        if not self.closed():
            self.write_frame(timestamp, items)

    def sender_report(self, timestamp: int, wall: float, cname: str) -> None:
        ntp = wall + _NTP_EPOCH
        seconds = int(ntp)
        fraction = int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF
        sr = _SR.pack(
            0x80, 200, 6, self.ssrc, seconds & 0xFFFFFFFF, fraction, timestamp,
            self.packets_sent & 0xFFFFFFFF, self.octets_sent & 0xFFFFFFFF,
        )  # fmt: skip
        self.write_rtcp(sr + _sdes(self.ssrc, cname))

    def cancel(self) -> None:
        while self._timers:
            self._timers.popleft().cancel()


def _sdes(ssrc: int, cname: str) -> bytes:
    text = cname.encode("utf-8")[:255]
    item = bytes((1, len(text))) + text + b"\x00"
    item += b"\x00" * (-(4 + len(item)) % 4)
    words = (4 + len(item)) // 4
    return struct.pack("!BBHI", 0x81, 202, words, ssrc) + item


class TcpSink(Sink):
    """RTP interleaved on the client's RTSP connection ($ framing)."""

    def __init__(
        self,
        session_id: str,
        ssrc: int,
        seq: int,
        rng: random.Random,
        transport: asyncio.Transport,
        channel: int,
        buffer_limit: int,
    ) -> None:
        super().__init__(session_id, ssrc, seq, rng)
        self.transport = transport
        self.channel = channel
        self.buffer_limit = buffer_limit

    def congested(self) -> bool:
        return self.transport.get_write_buffer_size() > self.buffer_limit

    def closed(self) -> bool:
        return self.transport.is_closing()

    def write_frame(self, timestamp: int, items: list[tuple[int, int, bytes]]) -> None:
        if self.transport.is_closing():
            return
        parts: list[bytes] = []
        pack = _TCP_RTP.pack
        ch, ssrc = self.channel, self.ssrc
        for seq, second, payload in items:
            parts.append(pack(0x24, ch, 12 + len(payload), 0x80, second, seq, timestamp, ssrc))
            parts.append(payload)
        self.transport.write(b"".join(parts))  # one write (and syscall) per frame

    def write_rtcp(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(struct.pack("!BBH", 0x24, self.channel + 1, len(data)) + data)


class UdpSink(Sink):
    """RTP to the client's UDP ports from the server's shared RTP/RTCP sockets."""

    def __init__(
        self,
        session_id: str,
        ssrc: int,
        seq: int,
        rng: random.Random,
        rtp: asyncio.DatagramTransport,
        rtcp: asyncio.DatagramTransport,
        rtp_addr: tuple[str, int],
        rtcp_addr: tuple[str, int],
        buffer_limit: int,
    ) -> None:
        super().__init__(session_id, ssrc, seq, rng)
        self.rtp = rtp
        self.rtcp = rtcp
        self.rtp_addr = rtp_addr
        self.rtcp_addr = rtcp_addr
        self.buffer_limit = buffer_limit
        self._closed = False

    def congested(self) -> bool:
        return self.rtp.get_write_buffer_size() > self.buffer_limit

    def closed(self) -> bool:
        return self._closed or self.rtp.is_closing()

    def write_frame(self, timestamp: int, items: list[tuple[int, int, bytes]]) -> None:
        if self.closed():
            return
        sendto, pack = self.rtp.sendto, _RTP.pack
        addr, ssrc = self.rtp_addr, self.ssrc
        for seq, second, payload in items:
            sendto(pack(0x80, second, seq, timestamp, ssrc) + payload, addr)

    def write_rtcp(self, data: bytes) -> None:
        if not self.closed():
            self.rtcp.sendto(data, self.rtcp_addr)

    def cancel(self) -> None:
        self._closed = True
        super().cancel()


class SimCamera:
    """Run-time state of one camera; faults are applied by the server's scheduler."""

    def __init__(
        self, spec: CameraSpec, base: LoopSpec, cache: LoopCache, seed: int, phase: int = 0
    ) -> None:
        """phase: frames until the first keyframe (0..gop_frames-1), so that a fleet
        started together does not send every keyframe in the same tick."""
        self.spec = spec
        self.name = spec.name
        self.rng = random.Random(seed)
        self.ssrc = self.rng.getrandbits(32)
        self.ts0 = self.rng.getrandbits(32)
        self.ts_step = 90000.0 / spec.fps
        self.base = base
        self.cache = cache
        self.loop: EncodedLoop | None = None
        self.phase = phase % base.gop_frames
        self.pos = -self.phase % base.frames  # the loop starts `phase` frames before a keyframe
        self.divisor = 1
        self.wanted = base
        self.last_tick = 0
        self.sinks: dict[str, Sink] = {}
        self.occurrences: tuple[Occurrence, ...] = ()
        # Fault state, recomputed from the active occurrences.
        self.stalled = False
        self.offline: str | None = None  # "close" or "silent"
        self.notfound = False
        self.auth_fault: Credentials | None = None
        self.loss_params: tuple[float, float] | None = None
        self.jitter = 0.0
        self.disconnect_after: float | None = None
        self.light = Light(base.gain, base.offset, base.ir)  # set by scene events
        # Counters of sinks that are gone; live ones are added in stats().
        self._retired = {"packets_sent": 0, "packets_dropped": 0, "packets_lost": 0, "bytes": 0}
        self.frames_sent = 0
        self.sessions_total = 0

    # -- configuration -------------------------------------------------------
    def credentials(self) -> Credentials | None:
        if self.auth_fault is not None:
            return self.auth_fault
        if self.spec.user is not None and self.spec.password is not None:
            return Credentials(self.spec.user, self.spec.password)
        return None

    def lit(self, light: Light | None = None) -> LoopSpec:
        """The camera's healthy loop under a light (the current one by default)."""
        light = light or self.light
        return replace(self.base, gain=light.gain, offset=light.offset, ir=light.ir)

    def apply_faults(self, occurrences: list[Occurrence]) -> None:
        self.occurrences = tuple(occurrences)
        by_kind = {o.fault.kind: o.fault for o in occurrences}  # the latest start wins
        self.stalled = "stall" in by_kind
        self.offline = by_kind["offline"].param("mode") if "offline" in by_kind else None
        self.notfound = "notfound" in by_kind
        auth = by_kind.get("auth")
        self.auth_fault = Credentials(auth.param("user"), auth.param("password")) if auth else None
        loss = by_kind.get("packet_loss")
        self.loss_params = (loss.param("percent"), loss.param("burst")) if loss else None
        jitter = by_kind.get("jitter")
        self.jitter = jitter.param("ms") / 1000.0 if jitter else 0.0
        disconnect = by_kind.get("disconnect")
        self.disconnect_after = disconnect.param("after") if disconnect else None
        self.wanted = self.loop_spec_for(occurrences)
        if self.wanted != self.base:
            self.cache.request(self.wanted)  # start encoding now, switch when ready
        for sink in self.sinks.values():
            self._configure(sink)

    def loop_spec_for(self, occurrences: list[Occurrence], light: Light | None = None) -> LoopSpec:
        spec = self.lit(light)
        for occ in occurrences:
            fault = occ.fault
            if fault.kind in IMAGE_FAULTS:
                numeric = tuple(
                    (k, float(v)) for k, v in sorted(fault.params_dict().items())
                    if isinstance(v, int | float)
                )  # fmt: skip
                spec = spec.with_look(fault.kind, numeric)
                if fault.kind == "frozen" and not fault.param("clock"):
                    # One GOP of one still picture: every keyframe is the same bytes,
                    # like an encoder fed the same frame over and over.
                    spec = replace(spec, gops=1)
            elif fault.kind == "low_fps":
                divisor = max(2, round(self.base.fps / float(fault.param("fps"))))
                fps = self.base.fps / divisor
                gop = max(1, round(self.spec.gop * fps))
                spec = replace(spec, fps=fps, gop_frames=gop)
            elif fault.kind == "bitrate_drop":
                bitrate = int(fault.param("bitrate")) or max(32_000, self.base.bitrate // 10)
                spec = replace(spec, bitrate=bitrate)
        return spec

    def _configure(self, sink: Sink) -> None:
        if self.loss_params != sink.loss_key:
            sink.loss_key = self.loss_params
            sink.loss = None if self.loss_params is None else LossModel(*self.loss_params, sink.rng)
        sink.jitter = self.jitter

    # -- clients -------------------------------------------------------------
    def new_seq(self) -> int:
        return self.rng.getrandbits(16)

    def next_timestamp(self) -> int:
        return (self.ts0 + int((self.last_tick + 1) * self.ts_step)) & 0xFFFFFFFF

    def attach(self, sink: Sink) -> None:
        self._configure(sink)
        self.sinks[sink.session_id] = sink
        self.sessions_total += 1

    def detach(self, session_id: str) -> None:
        sink = self.sinks.pop(session_id, None)
        if sink is None:
            return
        sink.cancel()
        self._retired["packets_sent"] += sink.packets_sent
        self._retired["packets_dropped"] += sink.packets_dropped
        self._retired["packets_lost"] += sink.packets_lost
        self._retired["bytes"] += sink.octets_sent

    # -- the frame clock -----------------------------------------------------
    def tick(self, k: int, wall: float) -> None:
        self.last_tick = k
        if k % self.divisor:
            return
        loop = self._current_loop()
        if loop is None:
            return
        unit = loop.frames[self.pos]
        self.pos = (self.pos + 1) % len(loop.frames)
        if self.stalled or not self.sinks:
            return
        timestamp = (self.ts0 + int(k * self.ts_step)) & 0xFFFFFFFF
        self.frames_sent += 1
        for sink in list(self.sinks.values()):
            sink.deliver(unit, timestamp)
            if wall - sink.last_sr >= SR_INTERVAL and sink.packets_sent:
                sink.last_sr = wall
                sink.sender_report(timestamp, wall, self.name)

    def _current_loop(self) -> EncodedLoop | None:
        loop = self.loop
        if loop is None:
            return None
        if self.wanted != loop.spec and loop.frames[self.pos].keyframe:
            try:
                new = self.cache.ready(self.wanted)
            except Exception as exc:  # the encoder failed: stay on the current loop
                log.error("camera %s: cannot encode %s loop: %s", self.name, self.wanted.look, exc)
                self.wanted = loop.spec
                return loop
            if new is not None:
                self.loop, self.pos = new, 0
                self.divisor = max(1, round(self.base.fps / new.spec.fps))
                return new
        return loop

    # -- reporting -----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        live = list(self.sinks.values())
        current = self.loop.spec if self.loop else self.base
        return {
            "clients": len(live),
            "sessions_total": self.sessions_total,
            "packets_sent": self._retired["packets_sent"] + sum(s.packets_sent for s in live),
            "packets_dropped": self._retired["packets_dropped"]
            + sum(s.packets_dropped for s in live),
            "packets_lost": self._retired["packets_lost"] + sum(s.packets_lost for s in live),
            "bytes_sent": self._retired["bytes"] + sum(s.octets_sent for s in live),
            "frames_sent": self.frames_sent,
            "look": current.look,
            "fps": current.fps,
            "bitrate": current.bitrate,
            "faults": [o.fault.kind for o in self.occurrences],
        }
