"""Sans-I/O splitting of an RTSP control connection into messages and
interleaved binary frames (RFC 2326 §10.12).

aiortsp's own parser copies the remaining buffer for every `$` frame, which is
quadratic in the size of a TCP read; on interleaved streams that is the hot
path. This framer walks the buffer with an offset and copies each frame once.
It also resynchronises on garbage instead of failing the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_MESSAGE = 64 * 1024  # an RTSP reply larger than this is not a camera talking
_HEADER_END = b"\r\n\r\n"
_STARTS = (b"RTSP/", b"GET_PARAMETER", b"SET_PARAMETER", b"OPTIONS", b"ANNOUNCE", b"REDIRECT")


@dataclass(frozen=True, slots=True)
class TextMessage:
    data: bytes  # one whole RTSP message: start line, headers, body


@dataclass(frozen=True, slots=True)
class BinaryFrame:
    channel: int
    payload: bytes


class FramingError(ValueError):
    pass


_NO_ROUTES: Mapping[int, Callable[[bytes], None]] = {}


class InterleavedFramer:
    """Feed it bytes as they arrive; it returns whole messages and frames."""

    def __init__(self) -> None:
        self._buf = b""
        self.garbage_bytes = 0

    def feed(self, data: bytes) -> list[TextMessage | BinaryFrame]:
        return self.feed_routed(data, _NO_ROUTES)

    def feed_routed(
        self, data: bytes, routes: Mapping[int, Callable[[list[bytes]], None]]
    ) -> list[TextMessage | BinaryFrame]:
        """feed(), except that binary frames on a routed channel go straight to
        its route as payload bytes, a run of consecutive frames of one channel
        in one list, in stream order, instead of into the returned list.

        This is the media hot path: no BinaryFrame per packet, and one call per
        run of packets (a TCP read holds a frame or more) rather than one per
        packet. If a route raises, the exception propagates; the frames handed
        to it and those before stay consumed.
        """
        buf = self._buf + data if self._buf else data
        out: list[TextMessage | BinaryFrame] = []
        run: list[bytes] = []
        run_route: Callable[[list[bytes]], None] | None = None
        i, n = 0, len(buf)
        while i < n:
            if buf[i] == 0x24:  # '$'
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                end = i + 4 + length
                if end > n:
                    break
                route = routes.get(buf[i + 1])
                if route is None:
                    out.append(BinaryFrame(buf[i + 1], buf[i + 4 : end]))
                elif route is run_route:
                    run.append(buf[i + 4 : end])
                else:
                    if run_route is not None:
                        self._hand(run_route, run, buf, i)
                    run, run_route = [buf[i + 4 : end]], route
                i = end
                continue
            if buf[i] in b"\r\n":
                i += 1
                continue
            if _starts_message(buf, i):
                end = _message_end(buf, i)
                if end is None:
                    if n - i > MAX_MESSAGE:
                        raise FramingError("RTSP message larger than 64 KiB")
                    break
                out.append(TextMessage(buf[i:end]))
                i = end
                continue
            i = self._skip_garbage(buf, i)
        self._buf = buf[i:]
        if run_route is not None:
            run_route(run)
        return out

    def _hand(
        self, route: Callable[[list[bytes]], None], run: list[bytes], buf: bytes, i: int
    ) -> None:
        """Deliver a run before the frame at i; if the route raises, keep from i."""
        try:
            route(run)
        except BaseException:
            self._buf = buf[i:]
            raise

    def _skip_garbage(self, buf: bytes, i: int) -> int:
        nxt = [p for p in (buf.find(b"$", i + 1), buf.find(b"RTSP/", i + 1)) if p != -1]
        stop = min(nxt) if nxt else len(buf)
        # Keep a short tail: it may be the start of a message split across reads.
        if not nxt:
            stop = max(i + 1, len(buf) - 12)
        self.garbage_bytes += stop - i
        return stop


def _starts_message(buf: bytes, i: int) -> bool:
    head = buf[i : i + 13]
    return any(head.startswith(s) or s.startswith(head) for s in _STARTS)


def _message_end(buf: bytes, i: int) -> int | None:
    """Index just past the message starting at i, or None if incomplete."""
    h = buf.find(_HEADER_END, i, i + MAX_MESSAGE)
    if h == -1:
        return None
    body = _content_length(buf[i:h])
    end = h + 4 + body
    return end if end <= len(buf) else None


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(0, int(value.strip()))
            except ValueError:
                return 0
    return 0
