"""Sans-I/O RTSP server pieces: request framing, responses, Transport headers.

`RequestReader` turns the bytes of one client connection into requests and
interleaved binary frames ($ channel length data). It bounds everything it
buffers and raises `ProtocolError` (with the status to answer before closing)
on garbage, so the connection can be closed without the server noticing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_HEADERS = 64

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    451: "Parameter Not Understood",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}

_METHOD = re.compile(r"^[A-Z][A-Z_]{0,31}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class SessionState(enum.Enum):
    READY = "ready"  # set up, not playing
    PLAYING = "playing"


class ProtocolError(Exception):
    """The peer sent something that is not RTSP; answer `status` and close."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Request:
    method: str
    uri: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def cseq(self) -> str | None:
        return self.headers.get("cseq")

    @property
    def session_id(self) -> str | None:
        value = self.headers.get("session")
        return value.split(";", 1)[0].strip() if value else None


@dataclass(frozen=True)
class Interleaved:
    channel: int
    data: bytes


class RequestReader:
    """Incremental parser of client → server RTSP traffic."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Request | Interleaved]:
        self._buf += data
        out: list[Request | Interleaved] = []
        while True:
            message = self._next()
            if message is None:
                return out
            out.append(message)

    def _next(self) -> Request | Interleaved | None:
        buf = self._buf
        while buf[:2] == b"\r\n" or buf[:1] == b"\n":  # stray line ends between messages
            del buf[: 2 if buf[:1] == b"\r" else 1]
        if not buf:
            return None
        if buf[0] == 0x24:  # '$': interleaved binary data
            if len(buf) < 4:
                return None
            size = int.from_bytes(buf[2:4], "big")
            if len(buf) < 4 + size:
                return None
            frame = Interleaved(buf[1], bytes(buf[4 : 4 + size]))
            del buf[: 4 + size]
            return frame
        end, sep = _head_end(buf)
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError(400, "request head too long or not RTSP")
            if not _plausible_start(buf):
                raise ProtocolError(400, "not an RTSP request")
            return None
        if end > MAX_HEAD_BYTES:
            raise ProtocolError(400, "request head too long")
        request = _parse_head(bytes(buf[:end]))
        length = _content_length(request)
        total = end + sep + length
        if len(buf) < total:
            return None
        body = bytes(buf[end + sep : total])
        del buf[:total]
        return Request(request.method, request.uri, request.version, request.headers, body)


def _head_end(buf: bytearray) -> tuple[int, int]:
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0


def _plausible_start(buf: bytearray) -> bool:
    """Early rejection of binary garbage that would never end a head."""
    head = bytes(buf[:33])
    token, space, _ = head.partition(b" ")
    if not all(65 <= c <= 90 or c == 95 for c in token):  # methods are A-Z and _
        return False
    if space:
        return bool(token)
    return len(token) <= 32


def _parse_head(raw: bytes) -> Request:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(400, "request head is not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _METHOD.match(parts[0]) or not parts[1]:
        raise ProtocolError(400, f"bad request line {lines[0][:80]!r}")
    method, uri, version = parts
    if not version.startswith("RTSP/"):
        raise ProtocolError(400 if "/" not in version else 505, f"not RTSP: {version[:20]!r}")
    if version != "RTSP/1.0":
        raise ProtocolError(505, f"unsupported version {version[:20]!r}")
    return Request(method, uri, version, _parse_headers(lines[1:]))


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    last: str | None = None
    for line in lines:
        if not line:
            continue
        if line[0] in " \t" and last is not None:  # obsolete line folding
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _HEADER_NAME.match(name):
            raise ProtocolError(400, f"bad header line {line[:80]!r}")
        last = name.lower()
        headers[last] = f"{headers[last]}, {value.strip()}" if last in headers else value.strip()
        if len(headers) > MAX_HEADERS:
            raise ProtocolError(400, "too many headers")
    return headers


def _content_length(request: Request) -> int:
    value = request.header("content-length")
    if value is None:
        return 0
    if not value.isdigit():
        raise ProtocolError(400, f"bad Content-Length {value[:20]!r}")
    length = int(value)
    if length > MAX_BODY_BYTES:
        raise ProtocolError(413, f"body of {length} bytes is over {MAX_BODY_BYTES}")
    return length


def format_response(
    status: int, cseq: str | None, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Unknown')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append("Server: camwatch-sim")
    lines.append(f"Date: {formatdate(usegmt=True)}")
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


@dataclass(frozen=True)
class TransportRequest:
    """The transport a client asked for in SETUP, as the server accepts it."""

    tcp: bool
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None


def parse_transport(value: str | None) -> TransportRequest | None:
    """The first acceptable unicast RTP/AVP transport offered, or None (→ 461)."""
    if not value:
        return None
    for spec in value.split(","):
        parsed = _parse_one_transport(spec)
        if parsed is not None:
            return parsed
    return None


def _parse_one_transport(spec: str) -> TransportRequest | None:
    fields = [f.strip() for f in spec.split(";") if f.strip()]
    if not fields:
        return None
    profile = fields[0].upper()
    params: dict[str, str] = {}
    for item in fields[1:]:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip()
    if "multicast" in params:
        return None
    if profile == "RTP/AVP/TCP":
        pair = _pair(params.get("interleaved"), 255)
        if "interleaved" in params and pair is None:
            return None
        return TransportRequest(tcp=True, interleaved=pair)
    if profile in ("RTP/AVP", "RTP/AVP/UDP"):
        pair = _pair(params.get("client_port"), 65535)
        return (
            None if pair is None or pair[0] == 0 else TransportRequest(tcp=False, client_port=pair)
        )
    return None


def _pair(value: str | None, limit: int) -> tuple[int, int] | None:
    if not value:
        return None
    first, _, second = value.partition("-")
    if not first.isdigit() or (second and not second.isdigit()):
        return None
    a = int(first)
    b = int(second) if second else a + 1
    if not (0 <= a <= limit and 0 <= b <= limit):
        return None
    return a, b


def split_uri(uri: str) -> tuple[str | None, str | None]:
    """(camera, track) named by a request URI; (None, None) for '*' or '/'."""
    if uri == "*":
        return None, None
    try:
        path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    except ValueError:
        return None, None
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts:
        return None, None
    return parts[0], "/".join(parts[1:]) or None
