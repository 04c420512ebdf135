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


# A route takes one read's payloads of its channel, whether the last of them
# is the newest routed frame of the read, and when the read's newest byte
# arrived (monotonic seconds; None: just now, the route reads its own clock).
Route = Callable[[list[bytes], bool, float | None], None]
_NO_ROUTES: Mapping[int, Route] = {}


class InterleavedFramer:
    """Feed it bytes as they arrive; it returns whole messages and frames."""

    def __init__(self) -> None:
        self._buf = b""
        self.garbage_bytes = 0
        self.routed_reads = 0  # reads that brought routed frames

    def feed(self, data: bytes) -> list[TextMessage | BinaryFrame]:
        return self.feed_routed(data, _NO_ROUTES)

    def feed_routed(
        self,
        data: bytes,
        routes: Mapping[int, Route],
        at: float | None = None,
        strict: bool = False,
    ) -> list[TextMessage | BinaryFrame]:
        """feed(), except that binary frames on a routed channel go to its route
        as payload bytes instead of into the returned list: each routed channel's
        frames of this read in one list, in stream order, once the read is parsed.

        This is the media hot path: no BinaryFrame per packet, and one call per
        channel and read (a TCP read holds a frame or more) rather than one per
        packet. A route is told whether its list's last payload is the newest
        routed frame of the read: the only one whose arrival time (the read's)
        the caller knows. Every frame of the read is consumed before the routes
        run; if a route raises, the others still get theirs and the first
        exception propagates.

        `at` is passed to the routes as is. strict: the read was not made the
        moment data arrived (a polled read; `at` is the kernel's arrival time
        of its last byte, None if the kernel gave none): a routed frame is the
        newest only if it ends the read, so that `at` is its own arrival; not
        when anything came after it (a reply, another channel's frame, part of
        a frame) or the arrival time is unknown.
        """
        buf = self._buf + data if self._buf else data
        out: list[TextMessage | BinaryFrame] = []
        lists: dict[int, list[bytes]] = {}
        newest = -1  # channel of the last routed frame
        newest_end = -1  # where it ends
        i, n = 0, len(buf)
        while i < n:
            if buf[i] == 0x24:  # '$'
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                end = i + 4 + length
                if end > n:
                    break
                channel = buf[i + 1]
                if channel in routes:
                    newest, newest_end = channel, end
                    got = lists.get(channel)
                    if got is None:
                        lists[channel] = [buf[i + 4 : end]]
                    else:
                        got.append(buf[i + 4 : end])
                else:
                    out.append(BinaryFrame(channel, buf[i + 4 : end]))
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
        if lists:
            self.routed_reads += 1
            if strict and (newest_end != n or at is None):
                newest = -1
            _deliver(routes, lists, newest, at)
        return out

    def _skip_garbage(self, buf: bytes, i: int) -> int:
        nxt = [p for p in (buf.find(b"$", i + 1), buf.find(b"RTSP/", i + 1)) if p != -1]
        stop = min(nxt) if nxt else len(buf)
        # Keep a short tail: it may be the start of a message split across reads.
        if not nxt:
            stop = max(i + 1, len(buf) - 12)
        self.garbage_bytes += stop - i
        return stop


def _deliver(
    routes: Mapping[int, Route], lists: dict[int, list[bytes]], newest: int, at: float | None
) -> None:
    error: BaseException | None = None
    for channel, payloads in lists.items():
        try:
            routes[channel](payloads, channel == newest, at)
        except BaseException as exc:  # re-raised below, after the other channels
            error = error or exc
    if error is not None:
        raise error


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
