"""Handcrafted H.264 / H.265 RTP packets for the depacketizer tests.

One `Codec` kit per codec holds the NAL units and packet builders the shared
quirk tests (test_rtp_quirks.py) need; the codec files test what only one
codec has. Packets are built here by hand, not by camwatch's packetizer, so a
bug there cannot hide one in the depacketizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from camwatch.rtp import AccessUnit, H264Depacketizer, H265Depacketizer, RtpPacket, h265_sprop_nals
from camwatch.rtp.nal import Depacketizer

SC = b"\x00\x00\x00\x01"
BODY = bytes(range(1, 250)) * 12  # no zero bytes, so no accidental start codes


class Stream:
    """Hands out consecutive sequence numbers, like a camera does."""

    def __init__(self, seq: int = 1000, ssrc: int = 0x1234) -> None:
        self.seq = seq
        self.ssrc = ssrc

    def pkt(self, payload: bytes, ts: int, marker: bool = False) -> RtpPacket:
        p = RtpPacket(96, marker, self.seq, ts, self.ssrc, payload)
        self.seq = (self.seq + 1) & 0xFFFF
        return p

    def skip(self, n: int = 1) -> None:
        self.seq = (self.seq + n) & 0xFFFF


def annexb(*nals: bytes) -> bytes:
    return b"".join(SC + n for n in nals)


def feed(d: Depacketizer, packets: list[RtpPacket]) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    for p in packets:
        out.extend(d.push(p))
    return out


def counters(d: Depacketizer) -> tuple[int, int, int, int]:
    return d.units_dropped, d.packets_discarded, d.fu_errors, d.lost_packets_seen


def with_marker(p: RtpPacket) -> RtpPacket:
    return RtpPacket(p.payload_type, True, p.seq, p.timestamp, p.ssrc, p.payload)


# -- H.264 (RFC 6184) -------------------------------------------------------------


def fu_a(nal: bytes, size: int) -> list[bytes]:
    indicator = (nal[0] & 0xE0) | 28
    body = nal[1:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    out = []
    for i, chunk in enumerate(chunks):
        header = (nal[0] & 0x1F) | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append(bytes([indicator, header]) + chunk)
    return out


def stap_a(*nals: bytes) -> bytes:
    return b"\x18" + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


# -- H.265 (RFC 7798) -------------------------------------------------------------


def fu(nal: bytes, size: int) -> list[bytes]:
    head = bytes([(nal[0] & 0x81) | (49 << 1), nal[1]])
    body = nal[2:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    kind = (nal[0] >> 1) & 0x3F
    return [
        head
        + bytes([kind | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)])
        + chunk
        for i, chunk in enumerate(chunks)
    ]


def ap(*nals: bytes) -> bytes:
    return b"\x60\x01" + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


# -- the kits -----------------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """One codec's NAL units and packet builders, for tests that hold for both codecs."""

    name: str
    depacketizer: type[Depacketizer]
    header_len: int  # NAL unit header bytes
    params: tuple[bytes, ...]  # parameter sets in decoder order (VPS,) SPS, PPS
    aud: bytes
    sei: bytes  # a SEI without recovery point
    recovery_sei: bytes  # a SEI with a recovery point
    idr: bytes  # a keyframe's first slice
    idr_slice2: bytes  # a keyframe's later slice (not the start of a picture)
    key2: bytes  # a keyframe of another kind where the codec has one (H.265: CRA)
    p: bytes  # a non-key picture's first slice
    p_slice2: bytes  # its second slice
    fragment: Callable[[bytes, int], list[bytes]]  # FU-A / FU
    aggregate: Callable[..., bytes]  # STAP-A / AP
    nal_type: Callable[[bytes], int]
    stored_params: Callable[[Depacketizer], tuple[bytes | None, ...]]  # in-band, as params

    def types(self, *nals: bytes) -> tuple[int, ...]:
        return tuple(map(self.nal_type, nals))

    def sps_variant(self) -> bytes:
        """A different SPS: the last byte of the SPS changed."""
        sps = self.params[-2]
        return sps[:-1] + bytes([sps[-1] ^ 0x01])

    def picture(self, s: Stream, ts: int, *nals: bytes, fu_size: int = 1000) -> list[RtpPacket]:
        """Packets of one access unit: small NALs whole, large ones fragmented."""
        payloads: list[bytes] = []
        for nal in nals:
            payloads.extend(self.fragment(nal, fu_size) if len(nal) > fu_size else [nal])
        return [s.pkt(p, ts, marker=i == len(payloads) - 1) for i, p in enumerate(payloads)]

    def keyframe(self, s: Stream, ts: int, **kw: int) -> list[RtpPacket]:
        """A whole keyframe with in-band parameter sets."""
        return self.picture(s, ts, *self.params, self.idr, **kw)


H264_SPS = bytes.fromhex("674d001f95a814016e40")  # a Foscam camera's SPS (from its SDP)
H264_PPS = bytes.fromhex("68ee3c80")
H264_IDR = b"\x65\x88\x84" + BODY  # first_mb_in_slice = 0 (top bit of 0x88 set)

H264 = Codec(
    name="h264",
    depacketizer=H264Depacketizer,
    header_len=1,
    params=(H264_SPS, H264_PPS),
    aud=b"\x09\xf0",
    sei=b"\x06\x05\x01\x41\x80",
    recovery_sei=b"\x06\x06\x01\xc4\x80",  # payloadType 6, size 1
    idr=H264_IDR,
    idr_slice2=b"\x65\x48\x84" + BODY[:500],  # first_mb_in_slice != 0
    key2=H264_IDR,
    p=b"\x41\x9a\x02" + BODY[:1500],
    p_slice2=b"\x41\x1a\x02" + BODY[:300],
    fragment=fu_a,
    aggregate=stap_a,
    nal_type=lambda nal: nal[0] & 0x1F,
    stored_params=lambda d: (d.sps, d.pps),
)

# A TP-Link camera's parameter sets (from its SDP).
H265_FMTP = {
    "sprop-vps": "QAEMAf//AWAAAAMAAAMAAAMAAAMAlqwJ",
    "sprop-sps": "QgEBAWAAAAMAAAMAAAMAAAMAlqABQCAFof4qtO6JLuaAgA27oADN/mAE",
    "sprop-pps": "RAHAcvAbJA==",
}


def _h265_in_band(d: Depacketizer) -> tuple[bytes | None, ...]:
    assert isinstance(d, H265Depacketizer)
    return (d.vps, d.sps, d.pps)


H265 = Codec(
    name="h265",
    depacketizer=H265Depacketizer,
    header_len=2,
    params=tuple(h265_sprop_nals(H265_FMTP)),
    aud=b"\x46\x01\x50",
    sei=b"\x4e\x01\x05\x01\x41\x80",  # prefix SEI, user data
    recovery_sei=b"\x4e\x01\x06\x01\xc4\x80",
    idr=b"\x26\x01\xaf" + BODY,  # IDR_W_RADL (19), first_slice_segment_in_pic_flag = 1
    idr_slice2=b"\x26\x01\x2f" + BODY[:500],  # first_slice_segment_in_pic_flag = 0
    key2=b"\x2a\x01\xaf" + BODY[:900],  # CRA (21): a keyframe too
    p=b"\x02\x01\xd0" + BODY[:1400],  # TRAIL_R (1), first slice
    p_slice2=b"\x02\x01\x40" + BODY[:200],  # a later slice segment of the same picture
    fragment=fu,
    aggregate=ap,
    nal_type=lambda nal: (nal[0] >> 1) & 0x3F,
    stored_params=_h265_in_band,
)

CODECS = {c.name: c for c in (H264, H265)}
