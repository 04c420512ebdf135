"""H.265 depacketizer: RFC 7798 packet forms and camera quirks, by handcrafted packets.

The last test feeds a real libx265 stream (packetized here by hand) through the
depacketizer and decodes its output with FFmpeg.
"""

from __future__ import annotations

import random
from fractions import Fraction

import av
import numpy as np
import pytest

from camwatch.rtp import AccessUnit, H265Depacketizer, RtpPacket, h265_sprop_nals, split_annexb

SC = b"\x00\x00\x00\x01"
# A TP-Link camera's parameter sets (from its SDP).
FMTP = {
    "sprop-vps": "QAEMAf//AWAAAAMAAAMAAAMAAAMAlqwJ",
    "sprop-sps": "QgEBAWAAAAMAAAMAAAMAAAMAlqABQCAFof4qtO6JLuaAgA27oADN/mAE",
    "sprop-pps": "RAHAcvAbJA==",
}
VPS, SPS, PPS = h265_sprop_nals(FMTP)
AUD = b"\x46\x01\x50"
BODY = bytes(range(1, 250)) * 10
IDR = b"\x26\x01\xaf" + BODY  # IDR_W_RADL (19), first_slice_segment_in_pic_flag = 1
CRA = b"\x2a\x01\xaf" + BODY[:900]  # CRA (21): a keyframe too
TRAIL = b"\x02\x01\xd0" + BODY[:1400]  # TRAIL_R (1), first slice
TRAIL_SEG2 = b"\x02\x01\x40" + BODY[:200]  # a later slice segment of the same picture


class Stream:
    def __init__(self, seq: int = 500, ssrc: int = 0xBEEF) -> None:
        self.seq = seq
        self.ssrc = ssrc

    def pkt(self, payload: bytes, ts: int, marker: bool = False) -> RtpPacket:
        p = RtpPacket(96, marker, self.seq, ts, self.ssrc, payload)
        self.seq = (self.seq + 1) & 0xFFFF
        return p


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


def annexb(*nals: bytes) -> bytes:
    return b"".join(SC + n for n in nals)


def picture(s: Stream, ts: int, *nals: bytes, fu_size: int = 1000) -> list[RtpPacket]:
    payloads: list[bytes] = []
    for nal in nals:
        payloads.extend(fu(nal, fu_size) if len(nal) > fu_size else [nal])
    return [s.pkt(p, ts, marker=i == len(payloads) - 1) for i, p in enumerate(payloads)]


def feed(d: H265Depacketizer, packets: list[RtpPacket]) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    for p in packets:
        out.extend(d.push(p))
    return out


def test_single_nal_packets() -> None:
    s, d = Stream(), H265Depacketizer()
    [au] = feed(d, [s.pkt(n, 0, marker=n is IDR) for n in (VPS, SPS, PPS, IDR)])
    assert au.data == annexb(VPS, SPS, PPS, IDR)
    assert (au.keyframe, au.nal_types, au.packets) == (True, (32, 33, 34, 19), 4)
    assert (d.vps, d.sps, d.pps) == (VPS, SPS, PPS)


def test_aggregation_packet_and_fragmentation_units() -> None:
    s, d = Stream(), H265Depacketizer()
    fragments = fu(IDR, 600)
    packets = [s.pkt(ap(VPS, SPS, PPS), 0)]
    packets += [s.pkt(f, 0, marker=f is fragments[-1]) for f in fragments]
    [au] = feed(d, packets)
    assert len(fragments) == 5
    assert split_annexb(au.data) == [VPS, SPS, PPS, IDR]
    assert (d.units_dropped, d.packets_discarded, d.fu_errors) == (0, 0, 0)


def test_fu_with_start_and_end_bits_in_one_packet() -> None:
    s, d = Stream(), H265Depacketizer()
    one = bytes([49 << 1, 1, 0x80 | 0x40 | 21]) + CRA[2:]
    [au] = feed(d, [s.pkt(ap(VPS, SPS, PPS), 0), s.pkt(one, 0, marker=True)])
    assert au.nal_types == (32, 33, 34, 21)
    assert au.keyframe  # a CRA is an IRAP picture


def test_non_key_picture_with_two_slice_segments() -> None:
    s, d = Stream(), H265Depacketizer()
    out = feed(d, picture(s, 0, VPS, SPS, PPS, IDR) + picture(s, 3000, TRAIL, TRAIL_SEG2))
    assert [au.keyframe for au in out] == [True, False]
    assert out[1].data == annexb(TRAIL, TRAIL_SEG2)


def test_paci_packets_are_counted_and_ignored() -> None:
    s, d = Stream(), H265Depacketizer()
    paci = b"\x64\x01\x00\x00" + IDR
    [au] = feed(d, [s.pkt(ap(VPS, SPS, PPS), 0), s.pkt(paci, 0), s.pkt(IDR, 0, marker=True)])
    assert au.nal_types == (32, 33, 34, 19)
    assert d.paci_packets == 1 and d.packets_discarded == 1


def test_start_codes_and_padding_inside_payloads() -> None:
    s, d = Stream(), H265Depacketizer()
    packets = [s.pkt(VPS + SC + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00", 0)]
    packets += [s.pkt(SC + IDR, 0, marker=True)]
    [au] = feed(d, packets)
    assert au.data == annexb(VPS, SPS, PPS, IDR)


def test_missing_marker_and_parameter_sets_with_their_own_timestamp() -> None:
    s, d = Stream(), H265Depacketizer()
    packets = [s.pkt(ap(VPS, SPS, PPS), 1, marker=True), s.pkt(IDR, 3000), s.pkt(TRAIL, 6000)]
    [au] = feed(d, packets)
    assert (au.rtp_timestamp, au.nal_types) == (3000, (32, 33, 34, 19))
    [last] = d.flush()
    assert last.rtp_timestamp == 6000


def test_loss_in_a_fu_drops_and_resyncs() -> None:
    s, d = Stream(seq=65530), H265Depacketizer()
    assert len(feed(d, picture(s, 0, VPS, SPS, PPS, IDR, fu_size=400))) == 1
    damaged = picture(s, 3000, TRAIL, fu_size=400)
    del damaged[1]
    out = feed(d, damaged) + feed(d, picture(s, 6000, TRAIL))
    out += feed(d, picture(s, 9000, VPS, SPS, PPS, CRA))
    assert [au.rtp_timestamp for au in out] == [9000]
    assert (d.units_dropped, d.lost_packets_seen, d.fu_errors) == (2, 1, 0)


def test_duplicate_and_orphan_fragment() -> None:
    s, d = Stream(), H265Depacketizer()
    packets = picture(s, 0, VPS, SPS, PPS, IDR)
    packets.insert(1, packets[0])
    assert len(feed(d, packets)) == 1
    assert d.packets_discarded == 1
    orphan = fu(TRAIL, 500)[1:]
    out = feed(d, [s.pkt(f, 3000, marker=f is orphan[-1]) for f in orphan])
    assert out == [] and d.fu_errors == 1 and d.units_dropped == 1


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x02\x00\xd0",  # TemporalId 0
        b"\x82\x01\xd0",  # forbidden_zero_bit
        b"\x7e\x01\x00",  # reserved type 63
        b"\x60\x01\x00\x20\x40",  # AP whose unit is longer than the packet
        b"\x62\x01",  # FU without FU header
        b"\x02",  # one byte
    ],
)
def test_garbage_never_raises(garbage: bytes) -> None:
    s, d = Stream(), H265Depacketizer()
    out = feed(d, [s.pkt(ap(VPS, SPS, PPS), 0), s.pkt(garbage, 0), s.pkt(IDR, 0, marker=True)])
    assert out == []
    assert d.packets_discarded == 1 and d.units_dropped == 1


def test_random_payloads_never_raise() -> None:
    rng = random.Random(11)
    s, d = Stream(), H265Depacketizer()
    for i in range(4000):
        d.push(s.pkt(rng.randbytes(rng.randrange(0, 50)), (i // 5) * 3000, rng.random() < 0.1))
    d.flush()
    assert d.packets_discarded > 0


def test_sdp_parameter_sets_prepended_to_keyframe_after_delimiter() -> None:
    s, d = Stream(), H265Depacketizer([VPS, SPS, PPS])
    out = feed(d, picture(s, 0, AUD, IDR) + picture(s, 3000, AUD, TRAIL))
    assert out[0].data == annexb(AUD, VPS, SPS, PPS, IDR)
    assert out[1].data == annexb(AUD, TRAIL)


def encode_h265(width: int, height: int, frames: int, gop: int) -> list[bytes]:
    ctx = av.CodecContext.create("libx265", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.framerate = Fraction(25, 1)
    ctx.gop_size = gop
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x265-params": f"log-level=error:keyint={gop}:min-keyint={gop}:scenecut=0",
    }
    rng = np.random.default_rng(5)
    units = []
    for i in range(frames):
        img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        units += [bytes(p) for p in ctx.encode(frame)]
    return units + [bytes(p) for p in ctx.encode(None)]


def test_real_stream_round_trip_and_keyframe_alone() -> None:
    units = encode_h265(256, 144, frames=8, gop=4)
    params = [n for n in split_annexb(units[0]) if 32 <= (n[0] >> 1) & 0x3F <= 34]
    bare = [SC + SC.join(n for n in split_annexb(u) if n not in params) for u in units]
    s, d = Stream(seq=65000), H265Depacketizer(params)
    packets: list[RtpPacket] = []
    for i, unit in enumerate(bare):
        packets += picture(s, i * 3600, *split_annexb(unit), fu_size=700)
    out = feed(d, packets)
    assert len(out) == 8
    assert [au.keyframe for au in out] == [i % 4 == 0 for i in range(8)]
    dec = av.CodecContext.create("hevc", "r")
    frames = [f for au in out for f in dec.decode(av.Packet(au.data))] + list(dec.decode(None))
    assert len(frames) == 8
    assert (frames[0].width, frames[0].height) == (256, 144)
    alone = av.CodecContext.create("hevc", "r")
    key = [f for f in alone.decode(av.Packet(out[4].data))] + list(alone.decode(None))
    assert len(key) == 1 and key[0].key_frame
