"""camwatch's RTSP session layer, built on aiortsp's connection, media session
and transports, with its known defects fixed here:

- Digest is chosen whenever offered (aiortsp prefers Basic), with qop=auth;
- credentials come already percent-decoded from the inventory;
- packets never queue: each RTP/RTCP datagram is handed synchronously to a
  sink (the camera pipeline), so no unbounded asyncio.Queue exists;
- interleaved TCP is framed by our linear-time framer (camwatch.rtsp.framing);
- every request has a timeout and TEARDOWN on close is bounded and silent;
- no inactivity close inside the transport: stall detection belongs to the
  camera supervisor, which must tell `stalled` from `offline`;
- our own RTCP receiver reports (aiortsp reports its own SSRC as the source
  and never updates jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from aiortsp.rtsp.connection import RTSPConnection
from aiortsp.rtsp.errors import RTSPConnectionError, RTSPError, RTSPResponseError, RTSPTimeoutError
from aiortsp.rtsp.parser import RTSPParser
from aiortsp.rtsp.session import RTSPMediaSession
from aiortsp.transport.tcp import TCPTransport
from aiortsp.transport.udp import UDPTransport

from ..redact import redact_text
from ..state import Status
from .auth import choose_auth
from .framing import BinaryFrame, FramingError, InterleavedFramer, Route
from .headers import parse_session
from .poller import poller_for
from .sdp import MediaTrack, SdpError, SessionDescription, base_url, parse_sdp


class _RedactingFilter(logging.Filter):
    """aiortsp logs requests and URLs at debug level: never let a secret out."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "Authorization" in msg or "authorization" in msg:
            return False
        record.msg, record.args = redact_text(msg), None
        return True


READ_SIZE = 64 * 1024  # bytes per socket read (see _Connection.connection_made)
# Kernel receive timestamps of a polled socket (SO_TIMESTAMPNS, which Python's
# socket module does not name): a struct timespec in an SCM_TIMESTAMPNS message.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
_STAMP_SPAN = 2.0  # s: a stamp older than this (or in the future) is not trusted
_UNSTAMPED_LIMIT = 10  # timed reads without a timestamp before going back to readiness

wire_log = logging.getLogger("camwatch.rtsp.wire")
wire_log.addFilter(_RedactingFilter())
log = logging.getLogger("camwatch.rtsp")


class MediaSink(Protocol):
    def on_rtp(self, data: bytes) -> None: ...
    # One read's packets; newest: the last of them is the newest of the read,
    # whose newest byte arrived `at` (monotonic; None: now).
    def on_rtp_run(self, payloads: list[bytes], newest: bool, at: float | None) -> None: ...
    # exact False: the packet's arrival is not known (others came after it in its read).
    def on_rtcp(self, data: bytes, exact: bool = True, at: float | None = None) -> None: ...
    def on_closed(self, error: BaseException | None) -> None: ...


class RtspFailure(Exception):
    """A session could not be set up: carries the camera status it implies."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str  # without credentials
    username: str | None = None
    password: str | None = None
    transport: str = "tcp"  # "tcp" | "udp"
    timeout: float = 5.0  # connect and each request
    # Once playing over TCP, read about this often (seconds) on the loop's
    # shared timer (poller.py) instead of on readiness: far cheaper across a
    # fleet. 0: on readiness (a lone probe keeps immediate reads).
    read_every: float = 0.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (322 if parts.scheme == "rtsps" else 554)

    @property
    def request_url(self) -> str:
        """The URL as sent in requests: rtspt:// is our alias for TCP, not a wire scheme."""
        parts = urlsplit(self.url)
        scheme = "rtsp" if parts.scheme in ("rtsp", "rtspt") else parts.scheme
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if ":" in (parts.hostname or ""):
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        return parts._replace(scheme=scheme, netloc=netloc).geturl()


class _Connection(RTSPConnection):
    """aiortsp's connection with Digest-first auth and linear-time framing."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(
            endpoint.host,
            endpoint.port,
            endpoint.username,
            endpoint.password,
            logger=wire_log,
            timeout=endpoint.timeout,
        )
        self._framer = InterleavedFramer()
        self._text = RTSPParser()
        # Interleaved channels whose payloads go straight to a media sink.
        self.payload_routes: dict[int, Route] = {}
        self.auth_offered = False
        self._polled: socket.socket | None = None  # see start_polling
        self._poll_period = 0.0  # see poll_after_media
        self._poll_error: OSError | None = None
        self._unstamped = 0  # timed reads in a row that brought no timestamp
        # Nobody awaits `result` on every path; retrieve it so asyncio never
        # logs "exception was never retrieved".
        self.result.add_done_callback(lambda f: f.cancelled() or f.exception())

    def handle_401(self, resp: object) -> bool:
        self.auth_offered = True
        headers = getattr(resp, "headers", {})
        if self._auth is None and self.username is not None and self.password is not None:
            self._auth = choose_auth(headers, self.username, self.password)
        if self._auth is None:
            return False
        return bool(self._auth.handle_401(headers))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # asyncio reads with recv(256 KiB): a fresh 256 KiB buffer per read is
        # an mmap and munmap each time (~16 us), more than the rest of a read
        # of one camera frame. A frame is a few KiB; 64 KiB reads are plenty.
        if hasattr(transport, "max_size"):
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_polling()
        super().connection_lost(exc or self._poll_error)

    # -- timed reads (poller.py) -------------------------------------------
    def poll_after_media(self, period: float) -> None:
        """Read on the loop's shared timer about every `period` seconds once
        media flows: the first frames are read as they come (they time the
        first-frame latency), the rest on the timer (see start_polling)."""
        self._poll_period = period

    def start_polling(self, period: float) -> bool:
        """Read on the loop's shared timer about every `period` seconds from
        now on, with kernel arrival times, instead of whenever the socket turns
        readable. False: this transport cannot (no socket, no pause, no
        timestamps), and reads stay as they were."""
        tr = self._transport
        sock = tr.get_extra_info("socket") if tr is not None else None
        if self._polled is not None or sock is None or not hasattr(tr, "pause_reading"):
            return False
        try:
            # Our own descriptor of the same socket: asyncio's stays its own.
            polled = sock.dup()
        except (OSError, AttributeError):
            return False
        try:
            polled.setblocking(False)
            polled.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        except OSError:
            polled.close()
            return False
        self._polled = polled
        self._unstamped = 0
        tr.pause_reading()
        poller_for(asyncio.get_running_loop()).add(self, period)
        return True

    def stop_polling(self, drain: bool = False) -> None:
        """Back to reads on readiness (for TEARDOWN's reply, or at EOF).
        drain: read what waits first, while its arrival times are known."""
        if drain and self._polled is not None:
            self.poll(time.time() - time.monotonic())
        polled, self._polled = self._polled, None
        if polled is None:
            return
        poller_for(asyncio.get_running_loop()).discard(self)
        with contextlib.suppress(OSError):
            polled.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 0)
        polled.close()
        tr = self._transport
        if tr is not None and not tr.is_closing():
            tr.resume_reading()  # type: ignore[attr-defined]

    def poll(self, offset: float) -> int:
        """Read all that waits; offset: wall clock minus monotonic clock.
        Returns the bytes read, or -1 when polling stopped (EOF, error)."""
        total = 0
        while self._polled is not None:
            if self._transport is None or self._transport.is_closing():
                return -1  # failed (bad data): connection_lost stops the polling
            try:
                data, ancillary, _, _ = self._polled.recvmsg(READ_SIZE, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return total
            except OSError as exc:
                self._poll_error = exc
                self.stop_polling()
                if self._transport is not None:
                    self._transport.abort()
                return -1
            if not data:
                # The camera closed: asyncio's own reader sees the EOF and
                # closes the connection as it always does.
                self.stop_polling()
                return -1
            total += len(data)
            full = len(data) == READ_SIZE
            # A full buffer left bytes behind: its last byte is not the newest.
            at = None if full else self._stamp(ancillary, offset)
            self._received(data, at, True)
            if not full:
                return total
        return -1

    def _stamp(self, ancillary: list[tuple[int, int, bytes]], offset: float) -> float | None:
        at = _arrival(ancillary, offset, time.monotonic())
        if ancillary:
            self._unstamped = 0
        else:
            self._unstamped += 1
            if self._unstamped >= _UNSTAMPED_LIMIT:
                # No kernel timestamps here: timed reads would leave the jitter
                # figures blind, so read on readiness again.
                _say_no_stamps()
                self.stop_polling()
        return at

    def poll_failed(self, exc: BaseException) -> None:
        self.stop_polling()
        self._fail(exc)

    def data_received(self, data: bytes) -> None:
        self._received(data, None, False)

    def _received(self, data: bytes, at: float | None, polled: bool) -> None:
        try:
            items = self._framer.feed_routed(data, self.payload_routes, at, polled)
        except FramingError as exc:
            self._fail(exc)
            return
        if self._poll_period and self._framer.routed_reads:
            period, self._poll_period = self._poll_period, 0.0
            self.start_polling(period)
        for item in items:
            if isinstance(item, BinaryFrame):
                handler = self.binary_handlers.get(item.channel)
                if handler is not None:
                    handler(item)
                continue
            try:
                for msg in self._text.parse(item.data):
                    self._dispatch(msg)
            except Exception as exc:  # a malformed reply must not kill the loop
                self._text = RTSPParser()
                self._fail(exc)
                return

    def _dispatch(self, msg: object) -> None:
        kind = getattr(msg, "type", "")
        if kind == "response":
            fut = self.active_requests.get(msg.cseq)  # type: ignore[attr-defined]
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif kind == "request":
            self.on_request(msg)  # type: ignore[arg-type]

    def _fail(self, exc: BaseException) -> None:
        if not self.result.done():
            err = RTSPConnectionError(f"invalid data from camera: {exc}")
            self.result.set_exception(err)
        if self._transport:
            self._transport.close()


@functools.cache
def _say_no_stamps() -> None:
    """Said once per process, not once per camera."""
    log.warning("no kernel receive timestamps: reading on readiness")


def _arrival(ancillary: list[tuple[int, int, bytes]], offset: float, now: float) -> float | None:
    """The kernel's arrival time of a read's last byte, in monotonic seconds;
    None without one, or when it is not within the last two seconds (the wall
    clock was stepped between the arrival and the read)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            at = sec + nsec * 1e-9 - offset
            return at if now - _STAMP_SPAN <= at <= now else None
    return None


def _bind_sink(transport: TCPTransport | UDPTransport, sink: MediaSink) -> None:
    """Route raw datagrams to the sink, bypassing dpkt parsing and aiortsp's
    RTCP statistics (wrong SSRC in reports, jitter never updated)."""
    transport.handle_rtp_data = sink.on_rtp  # type: ignore[method-assign]
    transport.handle_rtcp_data = sink.on_rtcp  # type: ignore[method-assign]
    if isinstance(transport, _TcpTransport):
        transport.handle_rtp_run = sink.on_rtp_run  # before prepare() routes it


class _TcpTransport(TCPTransport):
    handle_rtp_run: Route  # set by _bind_sink

    async def prepare(self) -> None:
        await super().prepare()
        self._route()

    def _route(self) -> None:
        """RTP and RTCP payloads go from the framer to the sink, nothing between."""
        self.connection.payload_routes = {
            self.rtp_idx: self.handle_rtp_run,
            self.rtcp_idx: self._rtcp_run,
        }

    def _rtcp_run(self, payloads: list[bytes], newest: bool, at: float | None) -> None:
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            self.handle_rtcp_data(payload, newest and i == last, at)

    def handle_rtp_bin(self, binary: BinaryFrame) -> None:  # type: ignore[override]
        self.handle_rtp_data(binary.payload)

    def handle_rtcp_bin(self, binary: BinaryFrame) -> None:  # type: ignore[override]
        self.handle_rtcp_data(binary.payload)

    def on_transport_response(self, headers: dict) -> None:
        # aiortsp asserts the echoed channels; a camera that picks other
        # channels is legal (RFC 2326 §12.39), so follow what it says.
        fields = self.parse_transport_fields(headers.get("transport", ""))
        inter = fields.get("interleaved")
        if inter and "-" in inter:
            rtp, rtcp = (int(x) for x in inter.split("-", 1))
            if (rtp, rtcp) != (self.rtp_idx, self.rtcp_idx):
                handlers = self.connection.binary_handlers
                handlers.pop(self.rtp_idx, None)
                handlers.pop(self.rtcp_idx, None)
                handlers[rtp], handlers[rtcp] = self.handle_rtp_bin, self.handle_rtcp_bin
                self.rtp_idx, self.rtcp_idx = rtp, rtcp
                self._route()

    async def send_rtcp_bytes(self, data: bytes) -> None:
        self.connection.send_binary(self.rtcp_idx, data)


class _UdpTransport(UDPTransport):
    @classmethod
    def get_socket_pair(cls, bind_address: str | None = None, retry: int = 10):  # type: ignore[override]
        import socket

        for _ in range(retry):
            first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            second = None
            try:
                first.bind((bind_address or "0.0.0.0", 0))
                port = first.getsockname()[1]
                mate = port + 1 if port % 2 == 0 else port - 1
                second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                second.bind((bind_address or "0.0.0.0", mate))
                return (first, second) if port % 2 == 0 else (second, first)
            except OSError:
                # aiortsp leaks the first socket here; we close both.
                first.close()
                if second is not None:
                    second.close()
        raise OSError("unable to allocate 2 consecutive UDP ports")

    async def prepare(self) -> None:
        await super().prepare()
        # As for TCP (_Connection.connection_made): asyncio's 256 KiB receive
        # buffer per datagram costs ~13 us each, more than the packet's whole
        # processing; a datagram is at most 64 KiB.
        for sink in (self.rtp_sink, self.rtcp_sink):
            tr = getattr(sink, "transport", None)
            if tr is not None and hasattr(tr, "max_size"):
                tr.max_size = READ_SIZE

    async def send_rtcp_bytes(self, data: bytes) -> None:
        target = self.rtcp_sender
        if target is None and self.server_rtcp is not None:
            target = (self.connection.host, self.server_rtcp)
        if target is not None:
            self.rtcp_sink.sendto(data, target)

    def handle_rtcp(self, data: bytes, sender: tuple) -> None:  # type: ignore[override]
        if self.rtcp_sender is None:
            self.rtcp_sender = sender
        self.handle_rtcp_data(data)


class _MediaSession(RTSPMediaSession):
    """aiortsp's media session with our SDP parser and tolerant OPTIONS."""

    description: SessionDescription | None = None
    track: MediaTrack | None = None

    def save_options(self, resp: object) -> None:
        public = getattr(resp, "headers", {}).get("public", "")
        self.session_options = {o.strip().upper() for o in str(public).split(",") if o.strip()}

    async def setup(self) -> None:
        # Some cameras answer OPTIONS without auth and others refuse it: it
        # is only informative, so its failure is not fatal (but 401 is).
        try:
            self.save_options(await self._send("OPTIONS", url=self.media_url))
        except RTSPResponseError as exc:
            if _status_of(exc) in (401, 403):
                raise
        resp = await self._send("DESCRIBE", headers={"Accept": "application/sdp"})
        base = base_url(self.media_url, _flat_headers(resp.headers))
        self.description = parse_sdp(resp.content, base)
        self.track = self.description.video()
        if self.track is None:
            raise RtspFailure(Status.UNSUPPORTED, _no_video_reason(self.description))
        if self.track.encoding not in ("H264", "H265"):
            raise RtspFailure(
                Status.UNSUPPORTED, f"video codec {self.track.encoding} is not supported"
            )
        headers: dict[str, object] = {}
        self.transport.on_transport_request(headers)
        resp = await self.connection.send_request("SETUP", url=self.track.control, headers=headers)
        self.transport.on_transport_response(resp.headers)
        self.session_id, timeout = parse_session(str(resp.headers.get("session", "")))
        if not self.session_id:
            raise RTSPError("SETUP reply carries no Session header")
        self.session_keepalive = max(5, int((timeout or 60) * 0.5))
        # Play on the aggregate URL when the SDP has one, else on the track.
        self.media_url = self.description.session_control or self.track.control
        await self.transport.warmup()

    async def play(self, seek: float | None = None, speed: float = 1) -> object:
        # aiortsp sends `Range: npt=now-` and `Scale`; several camera firmwares
        # reject one or the other, while `npt=0.000-` is what every client sends.
        return await self._send("PLAY", headers={"Range": "npt=0.000-"})


def _flat_headers(headers: dict) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else str(v)) for k, v in headers.items()}


def _status_of(exc: RTSPResponseError) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status", None)


def _no_video_reason(desc: SessionDescription) -> str:
    kinds = ", ".join(f"{t.media}/{t.encoding or t.payload_type}" for t in desc.tracks)
    return f"no H.264/H.265 video track (camera offers: {kinds or 'nothing'})"


class RtspSession:
    """One playing RTSP session; `open()` raises RtspFailure with a status."""

    def __init__(
        self,
        endpoint: Endpoint,
        sink: MediaSink,
        on_track: Callable[[MediaTrack], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.sink = sink
        self.on_track = on_track  # called after SETUP, before PLAY: ready the sink
        self._conn: _Connection | None = None
        self._transport: _TcpTransport | _UdpTransport | None = None
        self._session: _MediaSession | None = None
        self.track: MediaTrack | None = None
        self.play_sent_at: float | None = None
        self._last_keepalive = 0.0

    async def open(self) -> MediaTrack:
        ep = self.endpoint
        try:
            return await self._open(ep)
        except RtspFailure:
            await self.close(teardown=False)
            raise
        except BaseException as exc:
            await self.close(teardown=False)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _classify(exc, self._conn, ep) from None

    async def _open(self, ep: Endpoint) -> MediaTrack:
        self._conn = conn = _Connection(ep)
        await conn.prepare()
        cls = _TcpTransport if ep.transport == "tcp" else _UdpTransport
        self._transport = transport = cls(conn, logger=wire_log, timeout=0)
        _bind_sink(transport, self.sink)
        await transport.prepare()
        transport.subscribe(_ClosedRelay(self.sink))
        self._session = session = _MediaSession(conn, ep.request_url, transport, logger=wire_log)
        await session.setup()
        self.track = session.track
        assert self.track is not None
        if self.on_track is not None:
            self.on_track(self.track)
        self.play_sent_at = time.monotonic()
        await session.play()
        self._last_keepalive = self.play_sent_at
        conn.result.add_done_callback(self._on_connection_done)
        if ep.read_every > 0 and ep.transport == "tcp":
            conn.poll_after_media(ep.read_every)
        return self.track

    def _on_connection_done(self, fut: asyncio.Future) -> None:
        err = None if fut.cancelled() else fut.exception()
        self.sink.on_closed(err or ConnectionError("camera closed the connection"))

    @property
    def alive(self) -> bool:
        return self._conn is not None and self._conn.running

    @property
    def keepalive_due(self) -> bool:
        s = self._session
        return s is not None and time.monotonic() - self._last_keepalive >= s.session_keepalive

    async def keep_alive(self) -> None:
        if self._session is None:
            return
        self._last_keepalive = time.monotonic()
        try:
            await self._session.keep_alive()
        except RTSPResponseError as exc:
            # Some cameras reject GET_PARAMETER while still serving; only a
            # dead connection matters, which the transport reports itself.
            log.debug("keepalive refused: %s", _status_of(exc))

    async def send_rtcp(self, data: bytes) -> None:
        if self._transport is not None and self.alive:
            with contextlib.suppress(Exception):
                await self._transport.send_rtcp_bytes(data)

    async def close(self, teardown: bool = True) -> None:
        """TEARDOWN (bounded, silent), then close sockets. Idempotent."""
        session, transport, conn = self._session, self._transport, self._conn
        self._session = self._transport = self._conn = None
        if conn is not None:
            conn.stop_polling(drain=True)  # TEARDOWN's reply is read at once
        if teardown and session is not None and conn is not None and conn.running:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(session.teardown(), min(2.0, self.endpoint.timeout))
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.clients.clear()  # closing is ours: don't report it as a failure
                transport.close()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.result.remove_done_callback(self._on_connection_done)
            conn.close()


class _ClosedRelay:
    """Forwards only transport closure to the sink (RTP bypasses clients)."""

    def __init__(self, sink: MediaSink) -> None:
        self.sink = sink

    def handle_rtp(self, rtp: object) -> None:  # never called: RTP is bound directly
        pass

    def handle_rtcp(self, rtcp: object) -> None:
        pass

    def handle_closed(self, error: BaseException | None) -> None:
        self.sink.on_closed(error or ConnectionError("transport closed"))


def _classify(exc: BaseException, conn: _Connection | None, ep: Endpoint) -> RtspFailure:
    where = f"{ep.host}:{ep.port}"
    if isinstance(exc, RtspFailure):
        return exc
    if isinstance(exc, RTSPResponseError):
        status = _status_of(exc)
        resp = getattr(exc, "response", None)
        text = f"{status} {getattr(resp, 'status_msg', '')}".strip()
        if status == 401:
            if ep.username is None:
                return RtspFailure(Status.AUTH_FAILED, "camera requires a user name and password")
            return RtspFailure(Status.AUTH_FAILED, f"camera refused the credentials ({text})")
        if status == 403:
            return RtspFailure(Status.AUTH_FAILED, f"access forbidden ({text})")
        if status == 404:
            return RtspFailure(Status.NOT_FOUND, f"no such stream path on the camera ({text})")
        if status in (415, 454, 459, 461):
            return RtspFailure(
                Status.UNSUPPORTED, f"camera refused {ep.transport.upper()} ({text})"
            )
        return RtspFailure(Status.OFFLINE, f"camera answered {text}")
    if isinstance(exc, RTSPTimeoutError):
        return RtspFailure(Status.OFFLINE, f"no answer from {where} within {ep.timeout:g} s")
    if isinstance(exc, RTSPConnectionError):
        cause = exc.__cause__
        if isinstance(cause, asyncio.TimeoutError | TimeoutError):
            return RtspFailure(Status.OFFLINE, f"no answer from {where} within {ep.timeout:g} s")
        if isinstance(cause, ConnectionRefusedError):
            return RtspFailure(Status.OFFLINE, f"connection refused by {where}")
        if isinstance(cause, OSError):
            return RtspFailure(Status.OFFLINE, f"cannot reach {where}: {cause.strerror or cause}")
        return RtspFailure(Status.OFFLINE, redact_text(str(exc)) or f"connection to {where} lost")
    if isinstance(exc, SdpError):
        return RtspFailure(Status.UNSUPPORTED, f"unreadable SDP: {exc}")
    if isinstance(exc, OSError):
        return RtspFailure(Status.OFFLINE, f"cannot reach {where}: {exc.strerror or exc}")
    return RtspFailure(Status.OFFLINE, redact_text(f"{type(exc).__name__}: {exc}"))
