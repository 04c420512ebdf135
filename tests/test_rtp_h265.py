"""H.265 depacketizer: what only H.265 has (PACI packets), and a real libx265 stream
packetized here by hand, decoded by FFmpeg.

What both codecs share (packet forms, camera quirks, loss and resync, parameter
sets, CRA keyframes included) is tested once per codec in test_rtp_quirks.py.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from rtpfixtures import H265, SC, Stream, ap, feed

from camwatch.rtp import H265Depacketizer, RtpPacket, split_annexb

VPS, SPS, PPS = H265.params
IDR = H265.idr


def test_paci_packets_are_counted_and_ignored() -> None:
    s, d = Stream(), H265Depacketizer()
    paci = b"\x64\x01\x00\x00" + IDR
    [au] = feed(d, [s.pkt(ap(VPS, SPS, PPS), 0), s.pkt(paci, 0), s.pkt(IDR, 0, marker=True)])
    assert au.nal_types == (32, 33, 34, 19)
    assert d.paci_packets == 1 and d.packets_discarded == 1


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
        packets += H265.picture(s, i * 3600, *split_annexb(unit), fu_size=700)
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
