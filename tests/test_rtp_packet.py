"""RTP header parsing: every header feature and every way a header can be wrong."""

from __future__ import annotations

import dataclasses
import random
import struct

import pytest

from camwatch.rtp import RtpError, RtpPacket, parse_rtp


def rtp(
    payload: bytes,
    *,
    seq: int = 7,
    ts: int = 90000,
    ssrc: int = 0x11223344,
    pt: int = 96,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    extension: bytes | None = None,
    padding: int = 0,
    version: int = 2,
) -> bytes:
    b0 = (version << 6) | (0x20 if padding else 0) | (0x10 if extension is not None else 0)
    b0 |= len(csrcs)
    head = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    head += b"".join(struct.pack("!I", c) for c in csrcs)
    if extension is not None:
        head += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    pad = b"\x00" * (padding - 1) + bytes([padding]) if padding else b""
    return head + payload + pad


def test_plain_header_fields() -> None:
    pkt = parse_rtp(rtp(b"\x65abc", seq=65535, ts=0xFFFFFFFF, pt=97, marker=True))
    assert pkt == RtpPacket(97, True, 65535, 0xFFFFFFFF, 0x11223344, b"\x65abc")


def test_csrcs_extension_and_padding_are_skipped() -> None:
    data = rtp(b"payload", csrcs=(1, 2, 3), extension=b"\x10\xaa\x00\x00" * 2, padding=5)
    pkt = parse_rtp(data)
    assert pkt.payload == b"payload"
    assert not pkt.marker and pkt.payload_type == 96


def test_accepts_bytearray_and_memoryview() -> None:
    data = rtp(b"xyz")
    assert parse_rtp(bytearray(data)).payload == b"xyz"
    assert parse_rtp(memoryview(data)).payload == b"xyz"
    assert type(parse_rtp(memoryview(data)).payload) is bytes


def test_empty_payload_is_valid() -> None:
    assert parse_rtp(rtp(b"")).payload == b""
    assert parse_rtp(rtp(b"", padding=4)).payload == b""


def test_packet_is_immutable() -> None:
    pkt = parse_rtp(rtp(b"x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pkt.seq = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short: 0 bytes"),
        (rtp(b"abc")[:11], "too short: 11 bytes"),
        (rtp(b"abc", version=1), "version 1, expected 2"),
        (rtp(b"abc", version=0), "version 0"),
        (rtp(b"abc", csrcs=(1, 2))[:16], "CSRCs"),
        (rtp(b"", extension=b"")[:14], "extension bit set but only 2 bytes"),
        (rtp(b"", extension=b"\x00" * 8)[:20], "extension of 12 bytes is longer"),
        (rtp(b"ab", padding=1)[:-1] + b"\x00", "count is 0"),
        (rtp(b"", padding=3)[:12] + b"\x00\x09", "padding of 9 bytes is longer than the 2"),
    ],
)
def test_garbage_raises_specific_error(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        parse_rtp(data)


def test_rtp_error_is_a_value_error() -> None:
    assert issubclass(RtpError, ValueError)


def test_random_bytes_only_ever_raise_rtp_error() -> None:
    rng = random.Random(1234)
    parsed = 0
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(0, 40))
        try:
            pkt = parse_rtp(data)
        except RtpError:
            continue
        parsed += 1
        assert len(pkt.payload) <= len(data) - 12
    assert parsed > 0  # some random headers are valid version-2 packets
