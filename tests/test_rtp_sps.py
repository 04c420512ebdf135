"""SPS parsing on real parameter sets, SDP sprop decoding, and the NAL helpers under them.

Real SPS come from two places: libx264/libx265 (via PyAV) configured with a
known size, profile and rate; and the SDPs of real cameras in tests/data/retina.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import pytest

from camwatch.rtp import (
    BitReader,
    BitstreamError,
    SpsError,
    h264_sprop_nals,
    h265_sprop_nals,
    parse_h264_sps,
    parse_h265_sps,
    parse_sps,
    split_annexb,
    unescape_rbsp,
)

DATA = Path(__file__).parent / "data" / "retina"


def encode(codec: str, width: int, height: int, pix_fmt: str, fps: int, **options: str) -> bytes:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base = Fraction(1, fps)
    ctx.framerate = Fraction(fps, 1)
    ctx.options = {"preset": "ultrafast", **options}
    frame = av.VideoFrame(width, height, "yuv420p").reformat(format=pix_fmt)
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


def decoder_view(codec: str, stream: bytes) -> tuple[str, int, int]:
    """FFmpeg's own reading of the stream: profile name and picture size."""
    dec = av.CodecContext.create(codec, "r")
    frames = [*dec.decode(av.Packet(stream)), *dec.decode(None)]
    assert frames, "the encoded picture did not decode"
    return dec.profile, frames[0].width, frames[0].height


H264_CASES = [
    # (width, height, pix_fmt, fps, options, profile, level)
    (
        640,
        360,
        "yuv420p",
        25,
        {"profile": "baseline", "level": "3.0"},
        "Constrained Baseline",
        "3.0",
    ),
    (
        1920,
        1080,
        "yuv420p",
        30,
        {"preset": "superfast", "profile": "high", "level": "4.1"},
        "High",
        "4.1",
    ),
    (
        1280,
        720,
        "yuv420p",
        25,
        {"preset": "superfast", "profile": "main", "level": "3.1"},
        "Main",
        "3.1",
    ),
    (352, 288, "yuv420p", 15, {"preset": "superfast", "x264-params": "cqm=jvt"}, "High", None),
    (350, 286, "yuv420p", 12, {}, "Constrained Baseline", None),  # cropped right and bottom
    (
        1920,
        1080,
        "yuv420p",
        25,
        {"preset": "superfast", "x264-params": "interlaced=1"},
        "High",
        None,
    ),
    (640, 360, "yuv420p10le", 25, {"preset": "superfast"}, "High 10", None),
    (352, 288, "yuv422p", 25, {"preset": "superfast"}, "High 4:2:2", None),
]


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt", "fps", "options", "profile", "level"), H264_CASES
)
def test_h264_sps_from_libx264(
    width: int,
    height: int,
    pix_fmt: str,
    fps: int,
    options: dict[str, str],
    profile: str,
    level: str | None,
) -> None:
    stream = encode("libx264", width, height, pix_fmt, fps, **options)
    [sps] = [n for n in split_annexb(stream) if n[0] & 0x1F == 7]
    info = parse_h264_sps(sps)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", width, height, fps)
    assert info.profile == profile
    assert decoder_view("h264", stream) == (profile, width, height)
    if level is not None:
        assert info.level == level
    assert info.bit_depth == (10 if "10" in pix_fmt else 8)
    assert info.chroma_format == ("4:2:2" if "422" in pix_fmt else "4:2:0")


H265_CASES = [
    (640, 360, "yuv420p", 25, "level-idc=3.1", "Main", "3.1"),
    (1920, 1080, "yuv420p10le", 30, "level-idc=4.1", "Main 10", "4.1"),
    (350, 286, "yuv420p", 30, "", "Main", None),  # conformance window crops 2 columns, 2 rows
    (1280, 720, "yuv420p", 50, "temporal-layers=3:scaling-list=default", "Main", None),
    (640, 360, "yuv444p", 25, "", "Rext", None),
]


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt", "fps", "params", "profile", "level"), H265_CASES
)
def test_h265_sps_from_libx265(
    width: int, height: int, pix_fmt: str, fps: int, params: str, profile: str, level: str | None
) -> None:
    stream = encode(
        "libx265", width, height, pix_fmt, fps, **{"x265-params": f"log-level=error:{params}"}
    )
    [sps] = [n for n in split_annexb(stream) if (n[0] >> 1) & 0x3F == 33]
    info = parse_h265_sps(sps)
    assert (info.codec, info.width, info.height, info.fps) == ("h265", width, height, fps)
    assert info.profile == profile
    assert decoder_view("hevc", stream) == (profile, width, height)
    if level is not None:
        assert info.level == level
    assert info.bit_depth == (10 if "10" in pix_fmt else 8)


def sdp_fmtp(path: Path) -> dict[str, str]:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("a=fmtp:") and "sprop" in line:
            fmtp = {}
            for item in line.partition(" ")[2].split(";"):
                key, _, value = item.strip().partition("=")
                fmtp[key] = value
            return fmtp
    raise AssertionError(f"no sprop fmtp in {path}")


# Expected values were checked field by field against FFmpeg's trace_headers
# bitstream filter (ffmpeg -bsf:v trace_headers) on the same parameter sets.
CAMERAS = [
    ("anjvision_describe.txt", "h265", "Main", "5.1", 1280, 704, None),
    ("bunny_describe.txt", "h264", "Constrained Baseline", "3.0", 240, 160, 24.0),
    ("dahua_describe_h264_aac_onvif.txt", "h264", "High", "3.0", 704, 480, 15.0),
    ("foscam_describe.txt", "h264", "Main", "3.1", 1280, 720, None),
    ("gw_main_describe.txt", "h264", "Main", "4.2", 1920, 1080, None),
    ("gw_sub_describe.txt", "h264", "Main", "3.0", 720, 480, None),
    ("h264dvr_describe.txt", "h264", "Baseline", "4.1", 1920, 1080, 15.0),
    ("hikvision_describe.txt", "h264", "Main", "4.1", 1920, 1080, 30.0),
    ("ipcam_describe.txt", "h264", "Main", "3.2", 1280, 960, 20.0),
    ("macrovideo_describe.txt", "h264", "Main", "4.0", 1280, 720, 20.0),
    ("reolink_describe.txt", "h264", "High", "5.1", 2560, 1440, None),
    ("tplink_sdp.txt", "h265", "Main", "5.0", 2560, 1440, 15.0),
    ("ubiquiti_sdp.txt", "h264", "Main", "4.2", 1920, 1080, 45.0),
    ("vstarcam_describe.txt", "h264", "Main", "4.2", 1920, 1080, 7.5),
]


@pytest.mark.parametrize(("name", "codec", "profile", "level", "width", "height", "fps"), CAMERAS)
def test_real_camera_sdp_parameter_sets(
    name: str, codec: str, profile: str, level: str, width: int, height: int, fps: float | None
) -> None:
    fmtp = sdp_fmtp(DATA / name)
    if codec == "h264":
        nals = h264_sprop_nals(fmtp)
        assert sorted(n[0] & 0x1F for n in nals) == [7, 8]
        [sps] = [n for n in nals if n[0] & 0x1F == 7]
    else:
        nals = h265_sprop_nals(fmtp)
        assert [(n[0] >> 1) & 0x3F for n in nals] == [32, 33, 34]
        sps = nals[1]
    info = parse_sps(codec, sps)
    assert (info.codec, info.profile, info.level) == (codec, profile, level)
    assert (info.width, info.height, info.fps) == (width, height, fps)


def test_sps_with_leading_start_code_is_accepted() -> None:
    sps = h264_sprop_nals(sdp_fmtp(DATA / "hikvision_describe.txt"))[0]
    assert parse_h264_sps(b"\x00\x00\x00\x01" + sps) == parse_h264_sps(sps)


@pytest.mark.parametrize(
    ("parse", "nal", "message"),
    [
        (parse_h264_sps, b"", "too short"),
        (parse_h264_sps, b"\x67", "too short"),
        (parse_h264_sps, bytes.fromhex("68ee3c80"), "not an H.264 SPS"),
        (parse_h264_sps, bytes.fromhex("674d001f95"), "truncated H.264 SPS"),
        (parse_h264_sps, bytes.fromhex("674d001f") + b"\x00" * 8, "truncated|Exp-Golomb"),
        (parse_h265_sps, bytes.fromhex("4401c072f01b24"), "not an H.265 SPS"),
        (parse_h265_sps, bytes.fromhex("42010101600000"), "truncated H.265 SPS"),
    ],
)
def test_bad_sps_raises_specific_error(parse, nal: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpsError, match=message):
        parse(nal)


def test_unknown_codec() -> None:
    with pytest.raises(SpsError, match="vp8"):
        parse_sps("vp8", b"\x67")


def test_random_sps_bodies_only_raise_sps_error() -> None:
    rng = random.Random(5)
    parsed = 0
    for i in range(2000):
        body = rng.randbytes(rng.randrange(1, 40))
        try:
            info = parse_h264_sps(b"\x67" + body) if i % 2 else parse_h265_sps(b"\x42\x01" + body)
        except SpsError:
            continue
        parsed += 1
        assert 0 < info.width <= 16384 and 0 < info.height <= 16384
    assert parsed > 0


# -- sprop-parameter-sets -------------------------------------------------------------

SPS_B64, PPS_B64 = "Z00AH5WoFAFuQA==", "aO48gA=="
SPS_BYTES, PPS_BYTES = bytes.fromhex("674d001f95a814016e40"), bytes.fromhex("68ee3c80")


@pytest.mark.parametrize(
    "value",
    [
        f"{SPS_B64},{PPS_B64}",
        f"{SPS_B64.rstrip('=')},{PPS_B64.rstrip('=')}",  # padding dropped
        f" {SPS_B64} , {PPS_B64}\t",  # whitespace
        f"{SPS_B64}=,{PPS_B64}",  # too much padding
        f"{SPS_B64},,{PPS_B64},",  # empty entries
        f"{SPS_B64},!!!,{PPS_B64},A",  # undecodable entries are skipped
    ],
)
def test_h264_sprop_tolerates_sloppy_base64(value: str) -> None:
    assert h264_sprop_nals({"sprop-parameter-sets": value}) == [SPS_BYTES, PPS_BYTES]


def test_h264_sprop_key_case_and_start_codes_inside() -> None:
    # A camera that base64-encodes its parameter sets with start codes after them.
    assert h264_sprop_nals(
        {"Sprop-Parameter-Sets": "Z00AKpWoHgCJ+WbgICAgQAAAAAE=,aO48gAAAAAE="}
    ) == [
        bytes.fromhex("674d002a95a81e0089f966e020202040"),
        PPS_BYTES,
    ]


def test_sprop_missing() -> None:
    assert h264_sprop_nals({"packetization-mode": "1"}) == []
    assert h265_sprop_nals({}) == []


def test_h265_sprop_order_and_partial() -> None:
    fmtp = {"sprop-pps": "RAHAcvAbJA==", "sprop-vps": "QAEMAf//AWAAAAMAAAMAAAMAAAMAlqwJ"}
    assert [(n[0] >> 1) & 0x3F for n in h265_sprop_nals(fmtp)] == [32, 34]


# -- NAL helpers -----------------------------------------------------------------------


def test_split_annexb() -> None:
    assert split_annexb(b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00") == [
        b"\x67\xaa",
        b"\x68\xbb",
    ]
    assert split_annexb(b"\x65\x01\x00\x00\x00\x01\x41\x02") == [b"\x65\x01", b"\x41\x02"]
    assert split_annexb(b"\x00\x00\x00\x00") == []
    assert split_annexb(b"") == []


@pytest.mark.parametrize(
    ("escaped", "rbsp"),
    [
        ("0000030100", "00000100"),
        ("00000300000301", "0000000001"),
        ("0000030303", "000003" + "03"),  # the byte after an escape is data, even if 03
        ("000300", "000300"),  # one zero is not an escape
        ("ab00000300000300000301", "ab00000000000001"),
    ],
)
def test_emulation_prevention_removal(escaped: str, rbsp: str) -> None:
    assert unescape_rbsp(bytes.fromhex(escaped)) == bytes.fromhex(rbsp)


def test_bit_reader_exp_golomb() -> None:
    # Bits: 1 | 010 | 011 | 00100 | 00101 | 0001000 | 1 -> ue 0,1,2,3; se -2; ue 7; flag
    r = BitReader(bytes([0b10100110, 0b01000010, 0b10001000, 0b10000000]))
    assert [r.ue(), r.ue(), r.ue(), r.ue(), r.se(), r.ue(), r.flag()] == [0, 1, 2, 3, -2, 7, True]
    assert r.bits_left == 7
    assert r.u(7) == 0
    with pytest.raises(BitstreamError):
        r.u(1)
    with pytest.raises(BitstreamError, match="longer than 32"):
        BitReader(b"\x00" * 8).ue()
