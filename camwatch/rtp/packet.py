"""RTP fixed header parsing (RFC 3550 section 5.1).

This runs for every packet of every camera, so it does the minimum: one
struct unpack, bounds checks, one payload slice.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
_HEADER_LEN = 12


class RtpError(ValueError):
    """A datagram (or interleaved frame) that is not a valid RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


# The dataclass-generated __init__ of a frozen class goes through
# object.__setattr__ once per field (~0.7 us per packet on 3.11). parse_rtp
# builds the same object through the slot descriptors directly, which halves
# that cost; the result is an ordinary, still immutable RtpPacket.
_new = object.__new__
_set_pt = RtpPacket.__dict__["payload_type"].__set__
_set_marker = RtpPacket.__dict__["marker"].__set__
_set_seq = RtpPacket.__dict__["seq"].__set__
_set_ts = RtpPacket.__dict__["timestamp"].__set__
_set_ssrc = RtpPacket.__dict__["ssrc"].__set__
_set_payload = RtpPacket.__dict__["payload"].__set__


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP packet; CSRCs, header extension and padding are skipped.

    Raises RtpError naming what is wrong; an empty payload is valid and returned.
    """
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n < _HEADER_LEN:
        raise RtpError(f"RTP packet too short: {n} bytes, the fixed header needs 12")
    b0, b1, seq, timestamp, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise RtpError(f"RTP version {b0 >> 6}, expected 2")
    start = _HEADER_LEN + (b0 & 0x0F) * 4
    if b0 & 0x10:
        start = _skip_extension(data, start)
    if start > n:
        raise RtpError(f"RTP header of {start} bytes (CSRCs) is longer than the packet ({n} bytes)")
    end = n
    if b0 & 0x20:
        pad = data[-1]
        if pad == 0:
            raise RtpError("RTP padding bit set but the padding count is 0")
        if pad > n - start:
            raise RtpError(
                f"RTP padding of {pad} bytes is longer than the {n - start} bytes after the header"
            )
        end = n - pad
    pkt = _new(RtpPacket)
    _set_pt(pkt, b1 & 0x7F)
    _set_marker(pkt, b1 >= 0x80)
    _set_seq(pkt, seq)
    _set_ts(pkt, timestamp)
    _set_ssrc(pkt, ssrc)
    _set_payload(pkt, data[start:end])
    return pkt


def _skip_extension(data: bytes, start: int) -> int:
    if start + 4 > len(data):
        raise RtpError(
            f"RTP header extension bit set but only {len(data) - start} bytes follow the CSRCs"
        )
    words = int.from_bytes(data[start + 2 : start + 4], "big")
    end = start + 4 + words * 4
    if end > len(data):
        raise RtpError(
            f"RTP header extension of {words * 4 + 4} bytes is longer than the packet "
            f"({len(data)} bytes)"
        )
    return end
