"""One client's RTSP connection to the sim: framing, method handlers, sessions.

Handlers are synchronous: every answer is computed from in-memory state, so a
connection never owns a task. Anything unexpected while handling a request is
answered with 500 and logged; a framing error is answered with 400 (or 413,
505) and the connection is closed. Either way other clients never notice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .auth import AuthResult
from .camera import SimCamera
from .sdp import TRACK, build_sdp
from .session import (
    Interleaved,
    ProtocolError,
    Request,
    RequestReader,
    SessionState,
    TransportRequest,
    format_response,
    parse_transport,
    split_uri,
)

if TYPE_CHECKING:
    from .server import SimServer

log = logging.getLogger("camwatch.sim")

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
MAX_SESSIONS_PER_CONNECTION = 16

Reply = tuple[int, list[tuple[str, str]], bytes] | None  # None: close without answering
Cam = SimCamera | None  # the camera named by the request URI (None for '*')


@dataclass(eq=False)
class Session:
    id: str
    camera: SimCamera
    conn: RtspConnection
    transport: TransportRequest
    channels: tuple[int, int] | None  # TCP interleaved channels
    last_seen: float
    state: SessionState = SessionState.READY
    play_started: float | None = None
    rtcp_addr: tuple[str, int] | None = field(default=None)


class RtspConnection(asyncio.Protocol):
    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.reader = RequestReader()
        self.sessions: dict[str, Session] = {}
        self.last_seen = 0.0
        self.silenced = False  # an offline camera in "silent" mode: never answer again

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if peer else ("", 0)
        self.last_seen = self.server.now()
        if not self.server.register_connection(self):
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connection_closed(self)

    def data_received(self, data: bytes) -> None:
        if self.silenced or self.closing:
            return
        self.last_seen = self.server.now()
        try:
            messages = self.reader.feed(data)
        except ProtocolError as exc:
            self.server.counters["bad_requests"] += 1
            log.info("closing %s:%s after bad request: %s", *self.peer, exc.detail)
            self.send(format_response(exc.status, None))
            self.close()
            return
        for message in messages:
            if self.silenced or self.closing:
                return
            if isinstance(message, Interleaved):
                self._on_interleaved(message)
            else:
                self._on_request(message)

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def send(self, data: bytes) -> None:
        if not self.closing:
            assert self.transport is not None
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- requests --------------------------------------------------------------
    def _on_interleaved(self, frame: Interleaved) -> None:
        # RTCP receiver reports count as liveness, like a keepalive request.
        for session in self.sessions.values():
            if session.channels and frame.channel in session.channels:
                session.last_seen = self.server.now()

    def _on_request(self, request: Request) -> None:
        self.server.counters["requests"] += 1
        if request.cseq is None:
            self.send(format_response(400, None))
            return
        try:
            reply = self._dispatch(request)
        except Exception:  # a bug must cost one answer, not the server
            log.exception("error handling %s %s", request.method, request.uri)
            reply = (500, [], b"")
        if reply is None:
            return
        status, headers, body = reply
        self.send(format_response(status, request.cseq, headers, body))

    def _dispatch(self, request: Request) -> Reply:
        session = self._touch(request)
        method = request.method
        handler = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._get_parameter,
            "SET_PARAMETER": self._set_parameter,
        }.get(method)
        if handler is None:
            allowed = [("Public", PUBLIC)]
            return (405 if method in ("ANNOUNCE", "RECORD", "REDIRECT") else 501, allowed, b"")
        camera_name, track = split_uri(request.uri)
        camera = None
        if camera_name is not None:
            camera = self.server.cameras.get(camera_name)
            if camera is None:
                return (404, [], b"")
            gate = self._gate(request, camera)
            if gate != "ok":
                return None if gate == "drop" else gate
        return handler(request, camera, track, session)

    def _touch(self, request: Request) -> Session | None:
        sid = request.session_id
        if sid is None:
            return None
        session = self.server.sessions.get(sid)
        if session is not None:
            session.last_seen = self.server.now()
        return session

    def _gate(self, request: Request, camera: SimCamera) -> str | Reply:
        """Offline, not-found and authentication checks before any handler."""
        if camera.offline is not None:
            self.server.counters["refused"] += 1
            if camera.offline == "silent":
                self.silenced = True
            else:
                self.abort()
            return "drop"
        if camera.notfound:
            return (404, [], b"")
        creds = camera.credentials()
        if creds is None or request.method == "OPTIONS":
            return "ok"
        auth = self.server.auth
        result = auth.check(request.method, request.header("authorization"), creds)
        if result is AuthResult.OK:
            return "ok"
        self.server.counters["unauthorized"] += 1
        stale = result is AuthResult.STALE
        challenge = auth.challenge(stale=stale, qop=camera.spec.qop)
        return (401, [("WWW-Authenticate", challenge)], b"")

    # -- methods ---------------------------------------------------------------
    def _options(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        return (200, [("Public", PUBLIC)], b"")

    def _describe(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        if camera is None:
            return (404, [], b"")
        loop = camera.loop
        if loop is None:
            return (503, [("Retry-After", "1")], b"")
        sdp = build_sdp(
            name=camera.name,
            codec=camera.spec.codec,
            parameter_sets=loop.parameter_sets,
            fps=camera.spec.fps,
            bitrate=camera.spec.bitrate,
            origin_host=self.server.host_for_sdp(),
            session_version=camera.ssrc,
        )
        base = _base_url(request.uri, camera.name)
        headers = [("Content-Type", "application/sdp"), ("Content-Base", base + "/")]
        return (200, headers, sdp)

    def _setup(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        if camera is None or track not in (None, TRACK):
            return (404, [], b"")
        wanted = parse_transport(request.header("transport"))
        if wanted is None:
            return (461, [], b"")
        if request.session_id is not None:
            if session is None:
                return (454, [], b"")
            if session.camera is not camera:
                return (459, [], b"")
            if session.state is SessionState.PLAYING:
                return (455, [("Allow", "PLAY, PAUSE, TEARDOWN, GET_PARAMETER")], b"")
        elif len(self.sessions) >= MAX_SESSIONS_PER_CONNECTION:
            return (503, [], b"")
        channels = self._channels(wanted) if wanted.tcp else None
        if session is None:
            session = self.server.new_session(camera, self, wanted, channels)
        else:
            session.transport, session.channels = wanted, channels
        if not wanted.tcp:
            assert wanted.client_port is not None
            session.rtcp_addr = (self.peer[0], wanted.client_port[1])
        return (
            200,
            [("Transport", self._transport_reply(session)), self._session_header(session)],
            b"",
        )

    def _channels(self, wanted: TransportRequest) -> tuple[int, int]:
        if wanted.interleaved is not None:
            return wanted.interleaved
        used = {ch for s in self.sessions.values() if s.channels for ch in s.channels}
        first = next(c for c in range(0, 254, 2) if c not in used and c + 1 not in used)
        return first, first + 1

    def _transport_reply(self, session: Session) -> str:
        ssrc = f"ssrc={session.camera.ssrc:08X}"
        if session.channels is not None:
            a, b = session.channels
            return f"RTP/AVP/TCP;unicast;interleaved={a}-{b};{ssrc}"
        client = session.transport.client_port
        assert client is not None
        rtp, rtcp = self.server.udp_ports
        return (
            f"RTP/AVP;unicast;client_port={client[0]}-{client[1]};server_port={rtp}-{rtcp};{ssrc}"
        )

    def _session_header(self, session: Session) -> tuple[str, str]:
        return ("Session", f"{session.id};timeout={int(self.server.session_timeout)}")

    def _own_session(self, request: Request, session: Session | None) -> Session | Reply:
        if session is None:
            return (454, [], b"")
        if session.channels is not None and session.conn is not self:
            return (454, [], b"")  # interleaved data can only flow on its own connection
        return session

    def _play(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        found = self._own_session(request, session)
        if not isinstance(found, Session):
            return found
        if camera is not None and camera is not found.camera:
            return (459, [], b"")
        if found.state is not SessionState.PLAYING:
            self.server.start_playing(found)
        sink = found.camera.sinks.get(found.id)
        seq = sink.seq if sink is not None else 0
        url = _base_url(request.uri, found.camera.name) + "/" + TRACK
        rtp_info = f"url={url};seq={seq};rtptime={found.camera.next_timestamp()}"
        headers = [("Range", "npt=0.000-"), ("RTP-Info", rtp_info), self._session_header(found)]
        return (200, headers, b"")

    def _pause(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        found = self._own_session(request, session)
        if not isinstance(found, Session):
            return found
        if camera is not None and camera is not found.camera:
            return (459, [], b"")
        self.server.stop_playing(found)
        return (200, [self._session_header(found)], b"")

    def _teardown(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        found = self._own_session(request, session)
        if not isinstance(found, Session):
            return found
        self.server.end_session(found)
        return (200, [], b"")

    def _get_parameter(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        if request.session_id is not None and session is None:
            return (454, [], b"")
        headers = [self._session_header(session)] if session else []
        return (200, headers, b"")

    def _set_parameter(
        self, request: Request, camera: Cam, track: str | None, session: Session | None
    ) -> Reply:
        if request.session_id is not None and session is None:
            return (454, [], b"")
        if request.body.strip():
            return (451, [], b"")
        return (200, [self._session_header(session)] if session else [], b"")


def _base_url(uri: str, camera: str) -> str:
    """The aggregate URL of camera as the client spelled it (no trailing slash)."""
    head, sep, _rest = uri.partition(f"/{camera}")
    if not sep:
        return uri.rstrip("/")
    return head + sep


def new_session_id() -> str:
    return secrets.token_hex(8)
