from camwatch.rtsp.framing import BinaryFrame, FramingError, InterleavedFramer, TextMessage

REPLY = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nhello"


def frame(channel: int, payload: bytes) -> bytes:
    return bytes([0x24, channel, len(payload) >> 8, len(payload) & 0xFF]) + payload


def test_mixed_stream_split_at_every_byte_boundary() -> None:
    stream = frame(0, b"\x80" * 300) + REPLY + frame(1, b"rtcp") + b"\r\n" + frame(0, b"x")
    for cut in range(1, len(stream)):
        f = InterleavedFramer()
        items = f.feed(stream[:cut]) + f.feed(stream[cut:])
        assert items == [
            BinaryFrame(0, b"\x80" * 300),
            TextMessage(REPLY),
            BinaryFrame(1, b"rtcp"),
            BinaryFrame(0, b"x"),
        ], cut


def test_garbage_is_skipped_and_counted() -> None:
    f = InterleavedFramer()
    items = f.feed(b"\x00\x17garbage!" + frame(0, b"ok") + b"zz" + REPLY)
    assert items == [BinaryFrame(0, b"ok"), TextMessage(REPLY)]
    assert f.garbage_bytes == len(b"\x00\x17garbage!") + 2


def test_body_waits_for_content_length() -> None:
    f = InterleavedFramer()
    assert f.feed(REPLY[:-2]) == []
    assert f.feed(REPLY[-2:]) == [TextMessage(REPLY)]


def test_oversized_message_is_an_error() -> None:
    f = InterleavedFramer()
    try:
        f.feed(b"RTSP/1.0 200 OK\r\n" + b"X-Pad: " + b"a" * 70000)
    except FramingError:
        return
    raise AssertionError("expected FramingError")
