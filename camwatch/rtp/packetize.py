"""Annex-B access units → RTP payloads (RFC 6184 for H.264, RFC 7798 for H.265).

The simulator packetizes each encoded access unit once and shares the payloads
between every camera and client that serves it; only the 12-byte RTP header
differs per client, so it is built separately by `rtp_header`.

Payloads are at most `mtu - 12` bytes so that a whole RTP packet fits `mtu`.
Small parameter-set NAL units (SPS/PPS, VPS/SPS/PPS) are aggregated into one
STAP-A / AP packet, large NAL units are fragmented (FU-A / FU), the rest go as
single NAL unit packets.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .nal import split_annexb

RTP_HEADER_SIZE = 12
DEFAULT_MTU = 1400

_H264_STAP_A = 24
_H264_FU_A = 28
_H265_AP = 48
_H265_FU = 49

_HEADER = struct.Struct("!BBHII")


class PacketizeError(ValueError):
    """The access unit cannot be packetized (no NAL units, MTU too small)."""


def rtp_header(payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """A 12-byte RTP version 2 header with no CSRC and no extension."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    return _HEADER.pack(0x80, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)


def h264_nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def h265_nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


@dataclass(frozen=True, slots=True)
class _Codec:
    """What differs between RFC 6184 and RFC 7798 packetization: the NAL header layout."""

    name: str
    header_size: int  # NAL unit header bytes: 1 (H.264), 2 (H.265)
    nal_type: Callable[[bytes], int]
    parameter_sets: frozenset[int]  # the small units worth aggregating
    aggregate_header: Callable[[list[bytes]], bytes]  # STAP-A / AP header of these units
    fu_prefix: Callable[[bytes], bytes]  # FU indicator / FU payload header, before FU header


def _stap_a_header(nals: list[bytes]) -> bytes:
    return bytes((max(nal[0] & 0x60 for nal in nals) | _H264_STAP_A,))


def _ap_header(nals: list[bytes]) -> bytes:
    # The AP header carries F as the OR, and LayerId / TID as the lowest of its units.
    forbidden = max(nal[0] & 0x80 for nal in nals)
    layer = min(((nal[0] & 0x01) << 5) | (nal[1] >> 3) for nal in nals)
    tid = min(nal[1] & 0x07 for nal in nals)
    return bytes((forbidden | (_H265_AP << 1) | (layer >> 5), ((layer & 0x1F) << 3) | tid))


_H264 = _Codec(
    name="H.264",
    header_size=1,
    nal_type=h264_nal_type,
    parameter_sets=frozenset((7, 8)),  # SPS, PPS
    aggregate_header=_stap_a_header,
    fu_prefix=lambda nal: bytes(((nal[0] & 0xE0) | _H264_FU_A,)),
)
_H265 = _Codec(
    name="H.265",
    header_size=2,
    nal_type=h265_nal_type,
    parameter_sets=frozenset((32, 33, 34)),  # VPS, SPS, PPS
    aggregate_header=_ap_header,
    fu_prefix=lambda nal: bytes(((nal[0] & 0x81) | (_H265_FU << 1), nal[1])),
)


def packetize_h264(
    nals: list[bytes], mtu: int = DEFAULT_MTU, aggregate: bool = True
) -> list[bytes]:
    """RTP payloads (packetization-mode=1) for the NAL units of one access unit."""
    return _packetize(_H264, nals, mtu, aggregate)


def packetize_h265(
    nals: list[bytes], mtu: int = DEFAULT_MTU, aggregate: bool = True
) -> list[bytes]:
    """RTP payloads (no DONL) for the NAL units of one H.265 access unit."""
    return _packetize(_H265, nals, mtu, aggregate)


def _packetize(codec: _Codec, nals: list[bytes], mtu: int, aggregate: bool) -> list[bytes]:
    limit = _payload_limit(mtu)
    payloads: list[bytes] = []
    pending: list[bytes] = []  # small parameter sets waiting for a STAP-A / AP
    for nal in nals:
        if len(nal) < codec.header_size:
            raise PacketizeError(
                f"{codec.name} NAL unit shorter than its {codec.header_size}-byte header"
            )
        small_param = codec.nal_type(nal) in codec.parameter_sets
        if aggregate and small_param and _stap_size([*pending, nal], codec.header_size) <= limit:
            pending.append(nal)
            continue
        payloads.extend(_flush_aggregate(codec, pending))
        pending = []
        if len(nal) <= limit:
            payloads.append(nal)
        else:
            payloads.extend(_fragment(codec, nal, limit))
    payloads.extend(_flush_aggregate(codec, pending))
    return payloads


def _flush_aggregate(codec: _Codec, pending: list[bytes]) -> list[bytes]:
    if not pending:
        return []
    if len(pending) == 1:
        return [pending[0]]
    body = b"".join(struct.pack("!H", len(nal)) + nal for nal in pending)
    return [codec.aggregate_header(pending) + body]


def _fragment(codec: _Codec, nal: bytes, limit: int) -> list[bytes]:
    """FU-A / FU packets: the NAL header is replaced by the prefix and a one-byte FU header."""
    prefix = codec.fu_prefix(nal)
    nal_type = codec.nal_type(nal)
    chunks = _chunks(nal[codec.header_size :], limit - len(prefix) - 1)
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        fu_header = nal_type
        if i == 0:
            fu_header |= 0x80
        if i == len(chunks) - 1:
            fu_header |= 0x40
        out.append(prefix + bytes((fu_header,)) + chunk)
    return out


def packetize_access_unit(
    access_unit: bytes, codec: str, mtu: int = DEFAULT_MTU, aggregate: bool = True
) -> list[bytes]:
    """RTP payloads for one Annex-B access unit; codec is 'h264' or 'h265'."""
    nals = split_annexb(access_unit)
    if not nals:
        raise PacketizeError("access unit holds no NAL unit")
    if codec == "h264":
        return packetize_h264(nals, mtu, aggregate)
    if codec == "h265":
        return packetize_h265(nals, mtu, aggregate)
    raise PacketizeError(f"unknown codec {codec!r} (expected 'h264' or 'h265')")


def _payload_limit(mtu: int) -> int:
    limit = mtu - RTP_HEADER_SIZE
    if limit < 64:
        raise PacketizeError(f"MTU {mtu} too small for RTP video (need at least 76 bytes)")
    return limit


def _stap_size(nals: list[bytes], header_size: int) -> int:
    return header_size + sum(2 + len(nal) for nal in nals)


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
