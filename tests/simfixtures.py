"""Helpers shared by the simulator's tests: real clients against a real sim.

- `ffprobe(url, transport)`: Debian's ffprobe reports the stream.
- `RtpCapture`: aiortsp (a third-party client) plays a camera and records
  every RTP packet's arrival time, sequence number, timestamp and size.
- `RawRtsp`: hand-written requests over a plain socket, for status codes.
- `keyframes(url, ...)`: PyAV (FFmpeg's RTSP demuxer) decodes keyframes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from camwatch.sim.faults import make_fault
from camwatch.sim.scenario import CameraSpec, Scenario

FFPROBE = "/usr/bin/ffprobe"

logging.getLogger("rtsp_client").setLevel(logging.CRITICAL)  # aiortsp is chatty on close


async def until(predicate: Callable[[], bool], within: float) -> bool:
    """Poll predicate every 0.2 s for up to `within` seconds; whether it held."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return False


def camera(name: str, **kw: Any) -> CameraSpec:
    """A small, fast-to-encode camera: 320x180, 10 fps, 1 s GOP, 300 kbit/s."""
    fields: dict[str, Any] = {
        "width": 320, "height": 180, "fps": 10.0, "gop": 1.0, "bitrate": 300_000, "scene": 1,
    }  # fmt: skip
    fields.update(kw)
    return CameraSpec(name=name, **fields)


def scenario(
    cameras: list[CameraSpec], faults: list[tuple] = (), loop: float = 2.0, seed: int = 7
) -> Scenario:
    """faults: (camera, kind, start, end, params) tuples."""
    made = tuple(make_fault(c, k, s, e, p) for c, k, s, e, p in faults)
    return Scenario(name="test", cameras=tuple(cameras), faults=made, loop=loop, seed=seed)


async def ffprobe(url: str, transport: str, within: float = 30.0) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        FFPROBE, "-v", "error", "-rtsp_transport", transport,
        "-show_entries", "stream=codec_name,width,height,r_frame_rate",
        "-of", "json", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        return {"error": err.decode(errors="replace"), "returncode": proc.returncode}
    streams = json.loads(out)["streams"]
    return streams[0] if streams else {"error": "no stream"}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class RawRtsp:
    """A bare RTSP client over asyncio streams; skips interleaved frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.cseq = 0
        self.rtp_frames = 0

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawRtsp:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        return cls(reader, writer)

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, within: float = 5.0
    ) -> Response:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        return await asyncio.wait_for(self.read_response(), within)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_response(self) -> Response:
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                head = await self.reader.readexactly(3)
                await self.reader.readexactly(int.from_bytes(head[1:], "big"))
                self.rtp_frames += 1
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
            return Response(status, headers, body)

    async def closed_by_peer(self, within: float = 5.0) -> bool:
        """True once the server closes the connection (EOF or reset)."""
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
            return True
        except (ConnectionError, OSError):
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@dataclass
class Packet:
    arrival: float
    seq: int
    timestamp: int
    marker: bool
    size: int


@dataclass(eq=False)  # hashable by identity: aiortsp keeps clients in a set
class RtpCapture:
    """aiortsp plays url (TCP interleaved or UDP) and records the RTP it gets."""

    url: str
    tcp: bool = True
    timeout: float = 30.0
    username: str | None = None
    password: str | None = None
    packets: list[Packet] = field(default_factory=list)
    closed: bool = False

    async def __aenter__(self) -> RtpCapture:
        from aiortsp.rtsp.connection import RTSPConnection
        from aiortsp.rtsp.session import RTSPMediaSession
        from aiortsp.transport import TCPTransport, UDPTransport

        parts = urlsplit(self.url)
        self._stack = AsyncExitStack()
        try:
            conn = await self._stack.enter_async_context(
                RTSPConnection(
                    parts.hostname, parts.port, self.username, self.password,
                    timeout=self.timeout, accept_auth=["digest"],
                )
            )  # fmt: skip
            kind = TCPTransport if self.tcp else UDPTransport
            transport = await self._stack.enter_async_context(kind(conn, timeout=self.timeout))
            transport.subscribe(self)
            self.conn = conn
            self.session = await self._stack.enter_async_context(
                RTSPMediaSession(conn, self.url, transport=transport)
            )
            await self.session.play()
        except BaseException:
            await self._quiet_close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._quiet_close()

    async def _quiet_close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stack.aclose(), 5)

    @property
    def connected(self) -> bool:
        """False once the server closed the RTSP connection."""
        return bool(self.conn.running)

    # RTPTransportClient callbacks
    def handle_rtp(self, rtp: Any) -> None:
        self.packets.append(Packet(time.monotonic(), rtp.seq, rtp.ts, bool(rtp.m), len(rtp.data)))

    def handle_rtcp(self, rtcp: Any) -> None:
        pass

    def handle_closed(self, error: Exception | None) -> None:
        self.closed = True

    async def request(self, method: str) -> int:
        """Send OPTIONS/GET_PARAMETER in the session; returns the status."""
        from aiortsp.rtsp.errors import RTSPResponseError

        headers = {"Session": self.session.session_id}
        try:
            resp = await self.conn.send_request(method, self.session.media_url, headers)
        except RTSPResponseError as exc:
            return exc.response.status
        return resp.status


def loss_ratio(packets: list[Packet]) -> float:
    """Missing sequence numbers over the expected count (16-bit wrap aware)."""
    if len(packets) < 2:
        return 0.0
    expected = 1
    for a, b in itertools.pairwise(packets):
        expected += (b.seq - a.seq) & 0xFFFF
    return 1.0 - len(packets) / expected


def frame_times(packets: list[Packet]) -> list[tuple[float, int]]:
    """(arrival of the first packet, RTP timestamp) per frame."""
    frames: dict[int, float] = {}
    for p in packets:
        frames.setdefault(p.timestamp, p.arrival)
    return sorted(((t, ts) for ts, t in frames.items()), key=lambda x: x[1])


def _keyframes_blocking(url: str, start: float, until: float, want: int) -> list[np.ndarray]:
    import av

    out: list[np.ndarray] = []
    opened = time.monotonic()
    container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10.0, 5.0))
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "SLICE"  # FRAME/AUTO threading hangs on close
        stream.codec_context.skip_frame = "NONKEY"
        for packet in container.demux(stream):
            for frame in packet.decode():
                # Probing buffers seconds of packets: place frames by their own
                # timestamps (0 = the moment PLAY started), not by decode time.
                if frame.time is not None and opened + frame.time >= start:
                    out.append(frame.to_ndarray(format="gray"))
            if len(out) >= want or time.monotonic() > until:
                break
    finally:
        container.close()
    return out


_DECODERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="test-decode")


async def keyframes(url: str, start: float, until: float, want: int) -> list[np.ndarray]:
    """Luma of keyframes decoded after monotonic time start (at most until).

    Runs in its own thread pool: the default executor has too few workers for
    a dozen cameras decoded at once.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_DECODERS, _keyframes_blocking, url, start, until, want)


def laplacian_var(img: np.ndarray) -> float:
    f = img.astype(np.float32)
    lap = f[1:-1, :-2] + f[1:-1, 2:] + f[:-2, 1:-1] + f[2:, 1:-1] - 4 * f[1:-1, 1:-1]
    return float(lap.var())


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def digest_header(
    user: str, password: str, method: str, uri: str, challenge: str, qop: bool = False
) -> str:
    """An RFC 2617 Authorization header computed independently of camwatch."""
    import hashlib
    import re

    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = md5(f"{user}:{fields['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    base = f'username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}"'
    if qop:
        cnonce, nc = "0a4f113b", "00000001"
        response = md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return f'Digest {base}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    response = md5(f"{ha1}:{fields['nonce']}:{ha2}")
    return f'Digest {base}, response="{response}"'
