"""H.264 depacketizer: each RFC 6184 packet form and each camera quirk, by handcrafted packets.

The last tests feed a real libx264 stream (packetized here by hand) through the
depacketizer and decode its output with FFmpeg.
"""

from __future__ import annotations

import random
from fractions import Fraction

import av
import numpy as np
import pytest

from camwatch.rtp import AccessUnit, H264Depacketizer, RtpPacket, split_annexb
from camwatch.rtp.nal import MAX_RESYNC_UNITS, sei_payload_types

SC = b"\x00\x00\x00\x01"
SPS = bytes.fromhex("674d001f95a814016e40")  # a Foscam camera's SPS (from its SDP)
PPS = bytes.fromhex("68ee3c80")
SPS2 = bytes.fromhex("674d001f95a814016e41")  # a different SPS, for replacement tests
AUD = b"\x09\xf0"
SEI = b"\x06\x05\x01\x41\x80"
BODY = bytes(range(1, 250)) * 12  # no zero bytes, so no accidental start codes
IDR = b"\x65\x88\x84" + BODY  # first_mb_in_slice = 0 (top bit of 0x88 set)
IDR_SLICE2 = b"\x65\x48\x84" + BODY[:500]  # first_mb_in_slice != 0
P = b"\x41\x9a\x02" + BODY[:1500]
P_SLICE2 = b"\x41\x1a\x02" + BODY[:300]


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


def annexb(*nals: bytes) -> bytes:
    return b"".join(SC + n for n in nals)


def picture(s: Stream, ts: int, *nals: bytes, fu_size: int = 1000) -> list[RtpPacket]:
    """Packets of one access unit: small NALs whole, large ones as FU-A."""
    payloads: list[bytes] = []
    for nal in nals:
        payloads.extend(fu_a(nal, fu_size) if len(nal) > fu_size else [nal])
    return [s.pkt(p, ts, marker=i == len(payloads) - 1) for i, p in enumerate(payloads)]


def feed(d: H264Depacketizer, packets: list[RtpPacket]) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    for p in packets:
        out.extend(d.push(p))
    return out


def counters(d: H264Depacketizer) -> tuple[int, int, int, int]:
    return d.units_dropped, d.packets_discarded, d.fu_errors, d.lost_packets_seen


# -- packet forms ---------------------------------------------------------------


def test_single_nal_packets_make_one_access_unit() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = [s.pkt(SPS, 3000), s.pkt(PPS, 3000), s.pkt(IDR, 3000, marker=True)]
    [au] = feed(d, packets)
    assert au.data == annexb(SPS, PPS, IDR)
    assert (au.rtp_timestamp, au.keyframe, au.nal_types) == (3000, True, (7, 8, 5))
    assert (au.packets, au.size) == (3, len(SPS) + len(PPS) + len(IDR))
    assert d.sps == SPS and d.pps == PPS
    assert counters(d) == (0, 0, 0, 0)


def test_stap_a_then_fu_a() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = [s.pkt(stap_a(SPS, PPS), 0)]
    packets += [s.pkt(p, 0) for p in fu_a(IDR, 700)]
    packets[-1] = RtpPacket(96, True, packets[-1].seq, 0, s.ssrc, packets[-1].payload)
    [au] = feed(d, packets)
    assert len(packets) > 4
    assert split_annexb(au.data) == [SPS, PPS, IDR]
    assert au.packets == len(packets)


def test_non_key_access_unit() -> None:
    s, d = Stream(), H264Depacketizer()
    out = feed(d, picture(s, 0, SPS, PPS, IDR) + picture(s, 3600, P, P_SLICE2))
    assert [a.keyframe for a in out] == [True, False]
    assert out[1].data == annexb(P, P_SLICE2)
    assert out[1].nal_types == (1, 1)


def test_fu_a_with_start_and_end_bits_in_one_packet() -> None:
    s, d = Stream(), H264Depacketizer()
    one = bytes([0x7C, 0x80 | 0x40 | 5]) + IDR[1:]
    [au] = feed(d, [s.pkt(stap_a(SPS, PPS), 0), s.pkt(one, 0, marker=True)])
    assert split_annexb(au.data) == [SPS, PPS, IDR]
    assert d.fu_errors == 0


def test_interleaved_mode_types_are_counted_not_parsed() -> None:
    s, d = Stream(), H264Depacketizer()
    stap_b = b"\x19\x00\x01\x02"
    out = feed(d, [s.pkt(SPS, 0), s.pkt(stap_b, 0), s.pkt(IDR, 0, marker=True)])
    assert out == []
    assert d.packets_discarded == 1 and d.units_dropped == 1


# -- quirks ---------------------------------------------------------------------


def test_start_codes_inside_a_single_nal_payload_are_split() -> None:
    s, d = Stream(), H264Depacketizer()
    glued = SPS + SC + PPS + b"\x00\x00\x01" + SEI  # 4- and 3-byte start codes
    [au] = feed(d, [s.pkt(glued, 0), s.pkt(IDR, 0, marker=True)])
    assert au.nal_types == (7, 8, 6, 5)
    assert split_annexb(au.data) == [SPS, PPS, SEI, IDR]


def test_payload_that_starts_with_a_start_code() -> None:
    s, d = Stream(), H264Depacketizer()
    [au] = feed(d, [s.pkt(annexb(SPS, PPS), 0), s.pkt(SC + IDR, 0, marker=True)])
    assert au.nal_types == (7, 8, 5)
    assert au.data == annexb(SPS, PPS, IDR)


def test_annexb_stream_fragmented_as_one_fu_a() -> None:
    # A camera that fragments its encoder's whole output buffer under the SPS header.
    s, d = Stream(), H264Depacketizer()
    blob = SPS + SC + PPS + SC + IDR
    [au] = feed(d, [s.pkt(p, 0, marker=p[1] & 0x40 > 0) for p in fu_a(blob, 900)])
    assert au.nal_types == (7, 8, 5)
    assert au.keyframe


def test_trailing_zero_padding_is_removed() -> None:
    s, d = Stream(), H264Depacketizer()
    fragments = fu_a(IDR, 1000)
    fragments[-1] += b"\x00\x00"
    packets = [s.pkt(stap_a(SPS, PPS) + b"\x00\x00\x00", 0), s.pkt(P_SLICE2 + b"\x00", 0)]
    packets += [s.pkt(f, 0, marker=f is fragments[-1]) for f in fragments]
    [au] = feed(d, packets)
    assert split_annexb(au.data) == [SPS, PPS, P_SLICE2, IDR]
    assert au.data.endswith(IDR)
    assert counters(d) == (0, 0, 0, 0)


def test_missing_marker_bit_timestamp_change_ends_the_unit() -> None:
    s, d = Stream(), H264Depacketizer()
    out = feed(d, [s.pkt(SPS, 0), s.pkt(PPS, 0), s.pkt(IDR, 0)])
    assert out == []
    [first] = feed(d, [s.pkt(P, 3600)])
    assert (first.rtp_timestamp, first.nal_types) == (0, (7, 8, 5))
    [second] = d.flush()
    assert (second.rtp_timestamp, second.data) == (3600, annexb(P))
    assert d.flush() == []


def test_parameter_sets_marked_or_retimestamped_join_the_next_picture() -> None:
    # Reolink-style: SPS and PPS each carry the marker bit and an older timestamp.
    s, d = Stream(), H264Depacketizer()
    out = feed(d, [s.pkt(SPS, 100, marker=True), s.pkt(PPS, 100, marker=True)])
    assert out == []
    packets = picture(s, 3700, IDR)
    [au] = feed(d, packets)
    assert (au.rtp_timestamp, au.nal_types, au.packets) == (3700, (7, 8, 5), 2 + len(packets))
    assert au.data == annexb(SPS, PPS, IDR)


def test_sequence_wraps_around_inside_a_fragmented_nal() -> None:
    s, d = Stream(seq=65533), H264Depacketizer()
    packets = picture(s, 0, SPS, PPS, IDR, fu_size=500)
    assert [p.seq for p in packets[:5]] == [65533, 65534, 65535, 0, 1]
    [au] = feed(d, packets)
    assert au.data == annexb(SPS, PPS, IDR)
    assert counters(d) == (0, 0, 0, 0)


def test_loss_inside_a_fu_drops_the_unit_and_resyncs_on_the_next_keyframe() -> None:
    s, d = Stream(), H264Depacketizer()
    good = feed(d, picture(s, 0, SPS, PPS, IDR))
    damaged = picture(s, 3600, P + BODY, fu_size=800)
    del damaged[2]  # a middle fragment is lost
    out = feed(d, damaged)
    out += feed(d, picture(s, 7200, P) + picture(s, 10800, P))  # undecodable until a keyframe
    out += feed(d, picture(s, 14400, SPS, PPS, IDR) + picture(s, 18000, P))
    assert len(good) == 1
    assert [a.rtp_timestamp for a in out] == [14400, 18000]
    assert d.units_dropped == 3  # the damaged unit and two P frames skipped while resyncing
    assert d.lost_packets_seen == 1
    assert d.fu_errors == 0  # loss explains the orphan fragments
    assert d.resyncs == 1


def test_loss_between_nal_units_of_one_picture() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = picture(s, 0, SPS, PPS, IDR_SLICE2[:3] + BODY[:10], IDR_SLICE2)
    del packets[2]  # the first slice (a single-NAL packet)
    out = feed(d, packets) + feed(d, picture(s, 3600, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.units_dropped == 1 and d.lost_packets_seen == 1


def test_whole_unit_lost_then_keyframe_starting_cleanly_is_kept() -> None:
    s, d = Stream(), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    lost = picture(s, 3600, P)
    assert lost  # never delivered
    out = feed(d, picture(s, 7200, P) + picture(s, 10800, AUD, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [10800]
    assert d.units_dropped == 1  # the P frame that referenced the lost one


def test_after_a_gap_a_unit_must_show_it_starts_a_picture() -> None:
    s, d = Stream(), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    packets = picture(s, 3600, SPS, PPS, IDR)
    # The SPS packet is lost; a PPS may open an access unit, so this one is kept
    # (with the SPS seen earlier put back in front).
    [au] = feed(d, packets[1:])
    assert au.data == annexb(SPS, PPS, IDR)
    packets = picture(s, 7200, IDR, fu_size=500)
    assert feed(d, packets[1:]) == []  # the first FU fragment is lost: not a clean start
    assert d.units_dropped == 1


def test_duplicate_packet_is_discarded() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = picture(s, 0, SPS, PPS, IDR)
    packets.insert(2, packets[1])
    [au] = feed(d, packets)
    assert au.data == annexb(SPS, PPS, IDR)
    assert counters(d) == (0, 1, 0, 0)


def test_late_packet_after_a_gap_is_discarded() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = picture(s, 0, SPS, PPS, IDR) + picture(s, 3600, SPS, PPS, IDR)
    late = packets.pop(1)
    packets.insert(3, late)
    out = feed(d, packets)
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.packets_discarded == 1 and d.lost_packets_seen == 1


def test_fu_fragment_without_start_is_a_fu_error() -> None:
    s, d = Stream(), H264Depacketizer()
    fragments = fu_a(IDR, 1000)
    packets = [s.pkt(stap_a(SPS, PPS), 0)] + [s.pkt(f, 0) for f in fragments[1:]]
    out = feed(d, packets[:-1]) + feed(d, [RtpPacket(96, True, *_tail(packets[-1]))])
    out += feed(d, picture(s, 3600, P)) + feed(d, picture(s, 7200, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [7200]
    assert d.fu_errors == 1
    assert d.units_dropped == 2


def _tail(p: RtpPacket) -> tuple[int, int, int, bytes]:
    return p.seq, p.timestamp, p.ssrc, p.payload


def test_fu_start_while_another_fu_is_open_is_a_fu_error() -> None:
    s, d = Stream(), H264Depacketizer()
    first = fu_a(IDR, 1000)
    packets = [s.pkt(first[0], 0)] + [s.pkt(f, 0) for f in fu_a(IDR, 1000)]
    packets[-1] = RtpPacket(96, True, *_tail(packets[-1]))
    assert feed(d, packets) == []
    assert d.fu_errors == 1 and d.units_dropped == 1


def test_unit_ending_inside_a_fu_is_a_fu_error() -> None:
    s, d = Stream(), H264Depacketizer()
    fragments = fu_a(IDR, 1000)
    packets = [s.pkt(fragments[0], 0), s.pkt(fragments[1], 0, marker=True)]
    assert feed(d, packets) == []
    assert d.fu_errors == 1 and d.units_dropped == 1


def test_empty_payload_is_counted_and_harmless() -> None:
    s, d = Stream(), H264Depacketizer()
    [au] = feed(d, [s.pkt(SPS, 0), s.pkt(b"", 0), s.pkt(PPS, 0), s.pkt(IDR, 0, marker=True)])
    assert au.data == annexb(SPS, PPS, IDR)
    assert au.packets == 4
    assert counters(d) == (0, 1, 0, 0)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x1e\x01\x02",  # reserved type 30
        b"\x1f",  # reserved type 31
        b"\xe5\x88\x84",  # forbidden_zero_bit set
        b"\x18\x00\x09\x67",  # STAP-A whose unit claims more bytes than remain
        b"\x18\x00",  # STAP-A cut inside a length
        b"\x7c\x85",  # FU-A without any data
        b"\x00\x00\x00\x00",  # zeros only
    ],
)
def test_garbage_payload_drops_the_unit_and_never_raises(garbage: bytes) -> None:
    s, d = Stream(), H264Depacketizer()
    out = feed(d, [s.pkt(SPS, 0), s.pkt(garbage, 0), s.pkt(PPS, 0), s.pkt(IDR, 0, marker=True)])
    assert out == []
    assert d.packets_discarded == 1 and d.units_dropped == 1
    [au] = feed(d, picture(s, 3600, SPS, PPS, IDR))
    assert au.keyframe


def test_random_payloads_never_raise() -> None:
    rng = random.Random(7)
    s, d = Stream(), H264Depacketizer()
    emitted = 0
    for i in range(4000):
        payload = rng.randbytes(rng.randrange(0, 60))
        if rng.random() < 0.05:
            s.skip(rng.randrange(1, 5))
        emitted += len(d.push(s.pkt(payload, (i // 7) * 3000, marker=rng.random() < 0.1)))
    d.flush()
    assert d.packets_discarded > 0
    assert emitted + d.units_dropped > 0


def test_first_packet_in_the_middle_of_a_unit() -> None:
    s, d = Stream(), H264Depacketizer()
    packets = picture(s, 0, SPS, PPS, IDR)
    out = feed(d, packets[3:]) + feed(d, picture(s, 3600, P) + picture(s, 7200, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [7200]


def test_stream_may_begin_with_a_non_key_picture() -> None:
    s, d = Stream(), H264Depacketizer()
    out = feed(d, picture(s, 0, P) + picture(s, 3600, SPS, PPS, IDR))
    assert [a.keyframe for a in out] == [False, True]


def test_ssrc_change_restarts_and_resyncs() -> None:
    s, d = Stream(), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    s2 = Stream(seq=5, ssrc=0x9999)
    out = feed(d, picture(s2, 90, P) + picture(s2, 3690, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [3690]
    assert d.lost_packets_seen == 0


def test_large_sequence_jump_needs_two_consecutive_packets() -> None:
    s, d = Stream(seq=100), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    s.seq = 40000  # the camera restarted its sequence, same SSRC
    out = feed(d, picture(s, 3600, P) + picture(s, 7200, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [7200]
    assert d.lost_packets_seen == 0
    assert d.packets_discarded == 1  # the first packet of the new sequence, on probation


def test_recovery_point_sei_ends_a_resync_without_idr() -> None:
    # Periodic intra refresh: no IDR after the first, a recovery-point SEI instead.
    recovery_sei = b"\x06\x06\x01\xc4\x80"  # payloadType 6, size 1
    s, d = Stream(), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    s.skip()
    out = feed(
        d, picture(s, 3600, P) + picture(s, 7200, SEI, P) + picture(s, 10800, recovery_sei, P)
    )
    out += feed(d, picture(s, 14400, P))
    assert [(a.rtp_timestamp, a.keyframe) for a in out] == [(10800, False), (14400, False)]
    assert d.units_dropped == 2


def test_resync_gives_up_after_a_bounded_number_of_units() -> None:
    s, d = Stream(), H264Depacketizer()
    feed(d, picture(s, 0, SPS, PPS, IDR))
    s.skip()
    out = feed(d, [s.pkt(P[:40], 3600 * (i + 1), marker=True) for i in range(MAX_RESYNC_UNITS + 2)])
    assert [a.rtp_timestamp for a in out] == [
        3600 * (MAX_RESYNC_UNITS + 1),
        3600 * (MAX_RESYNC_UNITS + 2),
    ]
    assert d.units_dropped == MAX_RESYNC_UNITS


def test_sei_payload_types() -> None:
    assert sei_payload_types(b"\xff\x05\x02ab\x06\x01x\x80") == [260, 6]
    assert sei_payload_types(b"\x05\xff") == []  # truncated: nothing complete
    assert sei_payload_types(b"") == []


def test_oversized_unit_is_dropped() -> None:
    s, d = Stream(), H264Depacketizer(max_au_bytes=10_000)
    big = b"\x65\x88" + BODY * 4
    out = feed(d, picture(s, 0, SPS, PPS, big) + picture(s, 3600, SPS, PPS, IDR))
    assert [a.rtp_timestamp for a in out] == [3600]
    assert d.units_dropped == 1


# -- parameter sets -----------------------------------------------------------------


def test_sprop_parameter_sets_are_prepended_to_a_bare_keyframe() -> None:
    s, d = Stream(), H264Depacketizer([SPS, PPS])
    out = feed(d, picture(s, 0, IDR) + picture(s, 3600, P))
    assert out[0].data == annexb(SPS, PPS, IDR)
    assert out[0].nal_types == (7, 8, 5)
    assert out[1].data == annexb(P)  # only keyframes get them
    assert d.sps is None  # nothing seen in-band yet


def test_in_band_parameter_sets_replace_the_sdp_ones() -> None:
    s, d = Stream(), H264Depacketizer([SPS, PPS])
    feed(d, picture(s, 0, SPS2, PPS, IDR))
    assert d.sps == SPS2
    [au] = feed(d, picture(s, 3600, IDR))
    assert au.data == annexb(SPS2, PPS, IDR)


def test_only_the_missing_parameter_set_is_added_after_the_delimiter() -> None:
    s, d = Stream(), H264Depacketizer([SPS, PPS])
    [au] = feed(d, picture(s, 0, AUD, PPS, IDR))
    assert au.data == annexb(AUD, SPS, PPS, IDR)


def test_sprop_given_as_annexb_blob() -> None:
    s, d = Stream(), H264Depacketizer([annexb(SPS, PPS)])
    [au] = feed(d, picture(s, 0, IDR))
    assert au.nal_types == (7, 8, 5)


# -- real encoder, real decoder -----------------------------------------------------


def encode_h264(width: int, height: int, frames: int, gop: int) -> list[bytes]:
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.framerate = Fraction(25, 1)
    ctx.gop_size = gop
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "slices": "2"}
    rng = np.random.default_rng(3)
    units = []
    for i in range(frames):
        img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        units += [bytes(p) for p in ctx.encode(frame)]
    units += [bytes(p) for p in ctx.encode(None)]
    return units


def packetize(units: list[bytes], s: Stream, mtu: int = 1200) -> list[RtpPacket]:
    packets: list[RtpPacket] = []
    for i, unit in enumerate(units):
        packets += picture(s, i * 3600, *split_annexb(unit), fu_size=mtu)
    return packets


def decode(units: list[AccessUnit]) -> list[av.VideoFrame]:
    dec = av.CodecContext.create("h264", "r")
    frames = []
    for au in units:
        frames += dec.decode(av.Packet(au.data))
    return frames + list(dec.decode(None))


def test_real_stream_round_trip_decodes_every_picture() -> None:
    units = encode_h264(320, 240, frames=12, gop=6)
    d = H264Depacketizer()
    out = feed(d, packetize(units, Stream(seq=65500)))
    assert [au.data for au in out] == [SC + SC.join(split_annexb(u)) for u in units]
    assert [au.keyframe for au in out] == [i % 6 == 0 for i in range(12)]
    frames = decode(out)
    assert len(frames) == 12
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert counters(d) == (0, 0, 0, 0)


def test_keyframe_decodes_alone_with_sdp_parameter_sets() -> None:
    units = encode_h264(320, 240, frames=8, gop=4)
    nals = split_annexb(units[0])
    sprop = [n for n in nals if n[0] & 0x1F in (7, 8)]
    stripped = [
        SC + SC.join(n for n in split_annexb(u) if n[0] & 0x1F not in (7, 8)) for u in units
    ]
    d = H264Depacketizer(sprop)
    packets = packetize(stripped, Stream())
    del packets[len(packets) // 3]  # lose a packet: resync must land on the second keyframe
    out = feed(d, packets)
    assert out[0].keyframe and out[-1].rtp_timestamp == 7 * 3600
    assert d.units_dropped > 0
    later_key = next(au for au in out[1:] if au.keyframe)
    frames = decode([later_key])  # a fresh decoder, one access unit
    assert len(frames) == 1 and frames[0].key_frame
