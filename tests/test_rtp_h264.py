"""H.264 depacketizer: what only H.264 has (interleaved-mode packet types, SEI parsing),
and a real libx264 stream packetized here by hand, decoded by FFmpeg.

What both codecs share (packet forms, camera quirks, loss and resync, parameter
sets) is tested once per codec in test_rtp_quirks.py.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from rtpfixtures import H264, SC, Stream, counters, feed

from camwatch.rtp import AccessUnit, H264Depacketizer, RtpPacket, split_annexb
from camwatch.rtp.nal import sei_payload_types

SPS, PPS = H264.params
IDR = H264.idr


def test_interleaved_mode_types_are_counted_not_parsed() -> None:
    s, d = Stream(), H264Depacketizer()
    stap_b = b"\x19\x00\x01\x02"
    out = feed(d, [s.pkt(SPS, 0), s.pkt(stap_b, 0), s.pkt(IDR, 0, marker=True)])
    assert out == []
    assert d.packets_discarded == 1 and d.units_dropped == 1


def test_sei_payload_types() -> None:
    assert sei_payload_types(b"\xff\x05\x02ab\x06\x01x\x80") == [260, 6]
    assert sei_payload_types(b"\x05\xff") == []  # truncated: nothing complete
    assert sei_payload_types(b"") == []


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
        packets += H264.picture(s, i * 3600, *split_annexb(unit), fu_size=mtu)
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
