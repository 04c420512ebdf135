"""RTCP (RFC 3550 section 6): read sender reports, write receiver reports.

Sender reports map a camera's RTP clock to its wall clock; that is what the
stream statistics use for clock drift. Receiver reports tell the camera we are
alive and how the stream arrives (some cameras stop sending without them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_UNIX_OFFSET = 2_208_988_800

PT_SR = 200
PT_RR = 201
PT_SDES = 202

_COMMON = struct.Struct("!BBH")
_SR_BODY = struct.Struct("!IIIIII")
_RR = struct.Struct("!BBHIIIIIII")
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_time: float  # seconds since 1970 (NTP era 0, i.e. valid until 2036)
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    # The middle 32 bits of the NTP timestamp: the "LSR" a receiver report echoes.
    # Kept exact here because converting back from the float could be off by one.
    ntp_middle32: int = 0


def parse_rtcp(data: bytes) -> list[SenderReport]:
    """Sender reports found in a (compound) RTCP packet, in order.

    Other packet types are skipped. Never raises: parsing stops at the first
    malformed header and whatever was complete before it is returned.
    """
    reports: list[SenderReport] = []
    n = len(data)
    off = 0
    while off + 4 <= n:
        b0, packet_type, length = _COMMON.unpack_from(data, off)
        size = (length + 1) * 4
        if b0 >> 6 != 2 or off + size > n:
            break
        if packet_type == PT_SR and size >= 28:
            reports.append(_sender_report(data, off + 4))
        off += size
    return reports


def _sender_report(data: bytes, off: int) -> SenderReport:
    ssrc, msw, lsw, rtp_ts, packets, octets = _SR_BODY.unpack_from(data, off)
    return SenderReport(
        ssrc=ssrc,
        ntp_time=msw - NTP_UNIX_OFFSET + lsw / 4294967296.0,
        rtp_timestamp=rtp_ts,
        packet_count=packets,
        octet_count=octets,
        ntp_middle32=((msw & 0xFFFF) << 16) | (lsw >> 16),
    )


def build_receiver_report(
    reporter_ssrc: int,
    source_ssrc: int,
    fraction_lost: float,
    cumulative_lost: int,
    extended_highest_seq: int,
    jitter_units: int,
    last_sr: int,
    delay_since_last_sr: int,
    *,
    cname: str | None = None,
) -> bytes:
    """An RR with one report block about `source_ssrc` (RFC 3550 6.4.2).

    fraction_lost is a ratio (0..1; negative, from duplicates, is sent as 0);
    cumulative_lost is clamped to the signed 24-bit field; jitter_units is in
    RTP timestamp units; last_sr is SenderReport.ntp_middle32 (0 if none);
    delay_since_last_sr is in 1/65536 s. With `cname`, an SDES CNAME chunk is
    appended so the result is a complete compound packet. Fields that do not fit
    their 32-bit slots raise ValueError.
    """
    for name, value in (
        ("reporter_ssrc", reporter_ssrc),
        ("source_ssrc", source_ssrc),
        ("extended_highest_seq", extended_highest_seq),
        ("jitter_units", jitter_units),
        ("last_sr", last_sr),
        ("delay_since_last_sr", delay_since_last_sr),
    ):
        if not 0 <= value <= _U32:
            raise ValueError(f"{name}={value} does not fit an unsigned 32-bit RTCP field")
    fraction = min(255, max(0, int(fraction_lost * 256)))
    lost = min(0x7FFFFF, max(-0x800000, cumulative_lost)) & 0xFFFFFF
    report = _RR.pack(
        0x81,  # V=2, P=0, RC=1
        PT_RR,
        7,  # length in 32-bit words minus one: 8 header + 24 block bytes
        reporter_ssrc,
        source_ssrc,
        (fraction << 24) | lost,
        extended_highest_seq,
        jitter_units,
        last_sr,
        delay_since_last_sr,
    )
    if cname is None:
        return report
    return report + build_sdes_cname(reporter_ssrc, cname)


def build_sdes_cname(ssrc: int, cname: str) -> bytes:
    """An SDES packet with one chunk carrying CNAME (RFC 3550 6.5)."""
    text = cname.encode("utf-8")[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(text)) + text
    # The item list ends with a null octet, then pads to a 32-bit boundary.
    chunk += b"\x00" * (4 - len(chunk) % 4)
    return _COMMON.pack(0x81, PT_SDES, len(chunk) // 4) + chunk


def build_sender_report(
    ssrc: int, ntp_time: float, rtp_timestamp: int, packet_count: int, octet_count: int
) -> bytes:
    """An SR without report blocks (for the simulator and tests)."""
    seconds = int(ntp_time // 1)
    fraction = int((ntp_time - seconds) * 4294967296.0) & _U32
    return _COMMON.pack(0x80, PT_SR, 6) + _SR_BODY.pack(
        ssrc & _U32,
        (seconds + NTP_UNIX_OFFSET) & _U32,
        fraction,
        rtp_timestamp & _U32,
        packet_count & _U32,
        octet_count & _U32,
    )
