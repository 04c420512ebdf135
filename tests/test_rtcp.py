"""RTCP: sender reports out of compound packets, receiver reports that are RFC 3550 exact."""

from __future__ import annotations

import random
import struct

import pytest

from camwatch.rtp import (
    SenderReport,
    build_receiver_report,
    build_sender_report,
    parse_rtcp,
)

NTP_1970 = 2_208_988_800


def sr_bytes(ssrc: int, msw: int, lsw: int, rtp_ts: int, packets: int, octets: int) -> bytes:
    # One report block after the sender info, as cameras that also receive send it.
    block = struct.pack("!IIIIII", 0xABCDEF01, 0, 10, 0, 0, 0)
    return struct.pack("!BBHIIIIII", 0x81, 200, 12, ssrc, msw, lsw, rtp_ts, packets, octets) + block


def rr_bytes(ssrc: int) -> bytes:
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def sdes_bytes(ssrc: int, cname: bytes) -> bytes:
    chunk = struct.pack("!IBB", ssrc, 1, len(cname)) + cname + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def bye_bytes(ssrc: int) -> bytes:
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def test_sender_report_in_a_compound_packet() -> None:
    data = rr_bytes(5) + sr_bytes(0xCAFEBABE, NTP_1970 + 1_700_000_000, 0x80000000, 123456, 9, 999)
    data += sdes_bytes(0xCAFEBABE, b"camera@10.0.0.9") + bye_bytes(0xCAFEBABE)
    [report] = parse_rtcp(data)
    assert report.ssrc == 0xCAFEBABE
    assert report.ntp_time == pytest.approx(1_700_000_000.5, abs=1e-6)
    assert (report.rtp_timestamp, report.packet_count, report.octet_count) == (123456, 9, 999)
    # LSR: low 16 bits of the seconds, high 16 bits of the fraction.
    assert report.ntp_middle32 == (((NTP_1970 + 1_700_000_000) & 0xFFFF) << 16) | 0x8000


def test_two_sender_reports_and_other_types_skipped() -> None:
    data = (
        sr_bytes(1, NTP_1970 + 10, 0, 1, 2, 3)
        + bye_bytes(1)
        + sr_bytes(2, NTP_1970 + 20, 0, 4, 5, 6)
    )
    assert [(r.ssrc, r.ntp_time) for r in parse_rtcp(data)] == [(1, 10.0), (2, 20.0)]


def test_only_receiver_reports_gives_nothing() -> None:
    assert parse_rtcp(rr_bytes(1) + sdes_bytes(1, b"x")) == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x81",
        b"\x00" * 40,  # version 0
        sr_bytes(1, NTP_1970, 0, 0, 0, 0)[:20],  # length says more than there is
        struct.pack("!BBH", 0x80, 200, 1) + b"\x00" * 4,  # an SR too short to hold sender info
    ],
)
def test_garbage_gives_empty_list(data: bytes) -> None:
    assert parse_rtcp(data) == []


def test_stops_at_first_bad_header_but_keeps_earlier_reports() -> None:
    good = sr_bytes(7, NTP_1970 + 1, 0, 0, 0, 0)
    assert [r.ssrc for r in parse_rtcp(good + b"\x40\xc8\x00\x06" + good)] == [7]


def test_random_bytes_never_raise() -> None:
    rng = random.Random(99)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(0, 80))
        if rng.random() < 0.5:
            data = b"\x80\xc8\x00\x06" + data  # valid-looking SR header, random body
        for report in parse_rtcp(data):
            assert isinstance(report, SenderReport)


def unpack_rr(data: bytes) -> tuple[int, ...]:
    return struct.unpack("!BBHIIIIIII", data)


def test_receiver_report_layout() -> None:
    data = build_receiver_report(
        reporter_ssrc=0x01020304,
        source_ssrc=0xA0B0C0D0,
        fraction_lost=0.25,
        cumulative_lost=1000,
        extended_highest_seq=(3 << 16) | 17,
        jitter_units=450,
        last_sr=0x12345678,
        delay_since_last_sr=65536 * 2,
    )
    assert len(data) == 32
    b0, pt, length, reporter, source, lost_word, ext_seq, jitter, lsr, dlsr = unpack_rr(data)
    assert (b0 >> 6, b0 & 0x20, b0 & 0x1F) == (2, 0, 1)  # V=2, no padding, one block
    assert (pt, length) == (201, 7)
    assert reporter == 0x01020304
    assert source == 0xA0B0C0D0  # the block is about the camera, not about us
    assert lost_word >> 24 == 64
    assert lost_word & 0xFFFFFF == 1000
    assert (ext_seq, jitter, lsr, dlsr) == ((3 << 16) | 17, 450, 0x12345678, 131072)


@pytest.mark.parametrize(
    ("fraction", "cumulative", "fraction_byte", "lost_field"),
    [
        (-0.1, -1, 0, 0xFFFFFF),  # duplicates make both negative; 24-bit two's complement
        (1.5, 10**9, 255, 0x7FFFFF),  # clamped to the field
        (0.999, -(10**9), 255, 0x800000),
        (0.0, 0, 0, 0),
    ],
)
def test_receiver_report_loss_fields_clamp(
    fraction: float, cumulative: int, fraction_byte: int, lost_field: int
) -> None:
    data = build_receiver_report(1, 2, fraction, cumulative, 0, 0, 0, 0)
    lost_word = unpack_rr(data)[5]
    assert (lost_word >> 24, lost_word & 0xFFFFFF) == (fraction_byte, lost_field)


@pytest.mark.parametrize("field", ["extended_highest_seq", "jitter_units", "source_ssrc"])
def test_receiver_report_rejects_out_of_range(field: str) -> None:
    args = dict(
        reporter_ssrc=1,
        source_ssrc=2,
        fraction_lost=0.0,
        cumulative_lost=0,
        extended_highest_seq=0,
        jitter_units=0,
        last_sr=0,
        delay_since_last_sr=0,
    )
    args[field] = 1 << 32
    with pytest.raises(ValueError, match=field):
        build_receiver_report(**args)  # type: ignore[arg-type]
    args[field] = -1
    with pytest.raises(ValueError, match=field):
        build_receiver_report(**args)  # type: ignore[arg-type]


def test_receiver_report_with_cname_is_a_valid_compound_packet() -> None:
    data = build_receiver_report(0x55, 0x66, 0, 0, 0, 0, 0, 0, cname="camwatch@host")
    packets = []
    off = 0
    while off < len(data):
        b0, pt, length = struct.unpack_from("!BBH", data, off)
        assert b0 >> 6 == 2
        packets.append((pt, data[off : off + (length + 1) * 4]))
        off += (length + 1) * 4
    assert off == len(data)
    assert [pt for pt, _ in packets] == [201, 202]
    sdes = packets[1][1]
    ssrc, item, size = struct.unpack_from("!IBB", sdes, 4)
    assert (ssrc, item) == (0x55, 1)
    assert sdes[10 : 10 + size] == b"camwatch@host"
    assert sdes[10 + size] == 0  # item list terminator
    assert len(sdes) % 4 == 0


def test_sender_report_builder_matches_hand_layout() -> None:
    data = build_sender_report(0x99, 1_700_000_000.25, 4242, 10, 2000)
    assert data == struct.pack(
        "!BBHIIIIII", 0x80, 200, 6, 0x99, NTP_1970 + 1_700_000_000, 1 << 30, 4242, 10, 2000
    )
    [report] = parse_rtcp(data)
    assert report.ntp_time == pytest.approx(1_700_000_000.25, abs=1e-6)


def test_a_sender_report_of_unknown_arrival_stays_out_of_the_clock_drift() -> None:
    # Read together with later packets (coalesced TCP reads), an SR's arrival is
    # the read's time, up to a fifth of a second late: kept for our receiver
    # reports (LSR/DLSR), never for the drift of the camera's clock.
    from camwatch.decode import DecodePool
    from camwatch.pipeline import MediaPipeline
    from camwatch.rtsp.sdp import MediaTrack

    track = MediaTrack("video", 96, "H264", 90000, {}, "rtsp://127.0.0.1/cam/", None)
    pool = DecodePool(1)
    try:
        pipe = MediaPipeline("cam", track, pool)
        pipe.on_rtcp(build_sender_report(7, 1_700_000_000.0, 1000, 10, 1000), exact=False)
        assert pipe.last_sr is not None
        assert pipe.stats.snapshot(0.0).clock_drift_ppm is None and not pipe.stats._srs
        pipe.on_rtcp(build_sender_report(7, 1_700_000_001.0, 91000, 20, 2000))
        assert len(pipe.stats._srs) == 1
    finally:
        pool.shutdown()
