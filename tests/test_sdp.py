"""SDP parsing and control-URL resolution on real camera replies (tests/data/retina)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from camwatch.rtsp.headers import parse_response, parse_rtp_info
from camwatch.rtsp.sdp import (
    SdpError,
    SessionDescription,
    base_url,
    parse_sdp,
    resolve_control,
)

DATA = Path(__file__).parent / "data" / "retina"
REQUEST_URL = "rtsp://192.168.1.10:554/stream"


def describe(name: str, request_url: str = REQUEST_URL) -> tuple[str, SessionDescription]:
    """Parse a recorded DESCRIBE reply (or a bare SDP file) the way the client will."""
    raw = (DATA / name).read_bytes()
    if raw.startswith(b"v=0"):
        return request_url, parse_sdp(raw.decode(), request_url)
    reply = parse_response(raw)
    assert reply.status == 200
    base = base_url(request_url, reply.headers)
    return base, parse_sdp(reply.body, base)


# file, expected base, video (encoding, pt, clock, control), fmtp checks, framerate
VIDEO_CASES = [
    pytest.param(
        "anjvision_describe.txt",
        # Content-Base without a scheme: "192.168.1.10:554/stream0/"
        "rtsp://192.168.1.10:554/stream0/",
        ("H265", 96, 90000, "rtsp://192.168.1.10:554/stream0/trackID=1"),
        {"sprop-pps": "RAHAc8BBgwk=", "sprop-vps": "QAEMAf//AUAAAAMAAAMAAAMAAAMAmawJ"},
        5.0,  # from a=x-framerate: 5
        id="anjvision-schemeless-base-h265",
    ),
    pytest.param(
        "bunny_describe.txt",
        "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/",
        (
            "H264",
            97,
            90000,
            "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=2",
        ),
        {
            "sprop-parameter-sets": "Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==",
            "packetization-mode": "1",
        },
        24.0,
        id="wowza-audio-before-video",
    ),
    pytest.param(
        "dahua_describe_h264_aac_onvif.txt",
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/",
        ("H264", 96, 90000, "rtsp://192.168.5.111:554/cam/realmonitor/trackID=0"),
        {"sprop-parameter-sets": "Z2QAHqwsaoLA9puCgIKgAAADACAAAAMD0IAA,aO4xshsA"},
        15.0,
        id="dahua-query-base-onvif",
    ),
    pytest.param(
        "foscam_describe.txt",
        "rtsp://192.168.5.107:65534/videoMain/",
        ("H264", 96, 90000, "rtsp://192.168.5.107:65534/videoMain/track1"),
        {"sprop-parameter-sets": "Z00AH5WoFAFuQA==,aO48gA==", "profile-level-id": "4D001F"},
        None,
        id="foscam-trailing-slash",
    ),
    pytest.param(
        "gw_main_describe.txt",
        "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif",
        ("H264", 96, 90000, "rtsp://192.168.1.110:5050/H264/video"),
        # odd padding: trailing zero bytes and a start code inside the base64
        {"sprop-parameter-sets": "Z00AKpWoHgCJ+WbgICAgQAAAAAE=,aO48gAAAAAE="},
        None,
        id="gw-base-without-slash-with-query",
    ),
    pytest.param(
        "gw_sub_describe.txt",
        "rtsp://192.168.1.110:5049/H264?channel=1&subtype=1&unicast=true&proto=Onvif",
        ("H264", 96, 90000, "rtsp://192.168.1.110:5049/H264/video"),
        {"sprop-parameter-sets": "Z00AHpWoLQ9puAgICBAAAAAB,aO48gAAAAAE="},
        None,
        id="gw-sub",
    ),
    pytest.param(
        "h264dvr_describe.txt",
        "rtsp://127.0.0.1:554/camera",
        ("H264", 96, 90000, "rtsp://127.0.0.1:554/camera/trackID=3"),
        # "; "-separated fmtp, rtpmap with a trailing blank
        {
            "sprop-parameter-sets": "Z0IAKZY1QPAET8s3AQEBQAAAAwBAAAAHoQ==,aM4xsg==",
            "packetization-mode": "1",
        },
        25.0,  # "a=framerate:0S" then "a=framerate:25"
        id="h264dvr-base-without-slash",
    ),
    pytest.param(
        "hikvision_describe.txt",
        "rtsp://192.168.5.106:554/Streaming/Channels/101/",
        (
            "H264",
            96,
            90000,
            "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1"
            "?transportmode=unicast&profile=Profile_1",
        ),
        {"sprop-parameter-sets": "Z00AKZpkA8ARPyzUBAQFAAADA+gAAOpgBA==,aO48gA=="},
        None,
        id="hikvision-absolute-controls",
    ),
    pytest.param(
        "ipcam_describe.txt",
        REQUEST_URL,  # no Content-Base: the request URL
        ("H264", 96, 90000, "rtsp://192.168.1.10:554/stream/trackID=1"),
        {"sprop-parameter-sets": "J00AII1qBQB5oQAAAwABAAADACiE,KO48gA=="},
        25.0,
        id="ipcam-no-content-base",
    ),
    pytest.param(
        "macrovideo_describe.txt",
        REQUEST_URL,
        ("H264", 96, 90000, "rtsp://192.168.1.10:554/stream/track1"),
        {
            "profile-level-id": "TeAo",
            "sprop-parameter-sets": "J03gKI1oBQBboQAAAwABAAADACgPFCKg,KO4BNJI=",
        },
        None,
        id="macrovideo-no-origin-line",
    ),
    pytest.param(
        "reolink_describe.txt",
        "rtsp://192.168.5.206/h264Preview_01_main/",
        ("H264", 96, 90000, "rtsp://192.168.5.206/h264Preview_01_main/trackID=1"),
        {"sprop-parameter-sets": "Z2QAM6zoAoALWQ==,aO48MA==", "profile-level-id": "640033"},
        None,
        id="reolink",
    ),
    pytest.param(
        "vstarcam_describe.txt",
        REQUEST_URL,
        ("H264", 96, 90000, "rtsp://192.168.1.10:554/stream/track0"),
        {"sprop-parameter-sets": "Z00AKp2oHgCJ+WbgICAoAAADAAgAAAMAfCA=,aO48gA=="},
        None,
        id="vstarcam-no-session-control",
    ),
    pytest.param(
        "tplink_sdp.txt",
        REQUEST_URL,
        ("H265", 96, 90000, "rtsp://192.168.1.10:554/stream/track1"),
        {"sprop-pps": "RAHAcvAbJA==", "level-id": "150"},
        None,
        id="tplink-bare-sdp-h265",
    ),
    pytest.param(
        "ubiquiti_sdp.txt",
        REQUEST_URL,
        ("H264", 97, 90000, "rtsp://192.168.1.10:554/stream/trackID=2"),
        {"sprop-parameter-sets": "Z01AKo2NQDwBE/LgLcBAQFAAAD6AABX5CdoIhGo=,aO44gA=="},
        None,
        id="ubiquiti-video-third",
    ),
]


@pytest.mark.parametrize(("name", "base", "video", "fmtp", "framerate"), VIDEO_CASES)
def test_describe_finds_video(
    name: str,
    base: str,
    video: tuple[str, int, int, str],
    fmtp: dict[str, str],
    framerate: float | None,
) -> None:
    got_base, sdp = describe(name)
    assert got_base == base
    track = sdp.video()
    assert track is not None
    assert (track.encoding, track.payload_type, track.clock_rate, track.control) == video
    assert track.media == "video"
    for key, value in fmtp.items():
        assert track.fmtp[key] == value
    assert track.framerate == framerate


def test_all_describe_files_are_covered() -> None:
    covered = {p.values[0] for p in VIDEO_CASES}
    on_disk = {p.name for p in DATA.glob("*_describe*.txt")} | {
        p.name for p in DATA.glob("*_sdp.txt")
    }
    assert on_disk == covered


def test_dahua_audio_and_onvif_metadata_beside_video() -> None:
    _, sdp = describe("dahua_describe_h264_aac_onvif.txt")
    summary = [(t.media, t.payload_type, t.encoding, t.clock_rate, t.control) for t in sdp.tracks]
    prefix = "rtsp://192.168.5.111:554/cam/realmonitor/"
    assert summary == [
        ("video", 96, "H264", 90000, prefix + "trackID=0"),
        ("audio", 97, "MPEG4-GENERIC", 48000, prefix + "trackID=1"),
        ("application", 107, "VND.ONVIF.METADATA", 90000, prefix + "trackID=4"),
    ]
    assert sdp.tracks[1].fmtp["config"] == "1188"
    assert sdp.session_control == (
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/"
    )


def test_hikvision_session_control_and_metadata_track_are_absolute() -> None:
    _, sdp = describe("hikvision_describe.txt")
    assert sdp.session_control == (
        "rtsp://192.168.5.106:554/Streaming/Channels/101/?transportmode=unicast&profile=Profile_1"
    )
    meta = sdp.tracks[1]
    assert (meta.media, meta.payload_type, meta.encoding) == (
        "application",
        107,
        "VND.ONVIF.METADATA",
    )
    assert meta.control.endswith("/trackID=3?transportmode=unicast&profile=Profile_1")


def test_static_payload_types_without_rtpmap() -> None:
    _, foscam = describe("foscam_describe.txt")
    audio = foscam.tracks[1]
    assert (audio.media, audio.payload_type, audio.encoding, audio.clock_rate) == (
        "audio",
        0,
        "",
        8000,
    )
    assert audio.control == "rtsp://192.168.5.107:65534/videoMain/track2"
    _, dvr = describe("h264dvr_describe.txt")
    assert (dvr.tracks[1].payload_type, dvr.tracks[1].encoding, dvr.tracks[1].clock_rate) == (
        8,
        "",
        8000,
    )


def test_rtpmap_wins_over_static_table_and_trailing_blanks() -> None:
    _, gw = describe("gw_main_describe.txt")
    audio = gw.tracks[1]
    assert (audio.payload_type, audio.encoding, audio.clock_rate) == (8, "PCMU", 8000)
    assert audio.control == "rtsp://192.168.1.110:5050/H264/audio"
    assert audio.fmtp == {"vad": "no"}
    _, vstar = describe("vstarcam_describe.txt")  # "m=audio 0 RTP/AVP 8<TAB> "
    assert (vstar.tracks[1].payload_type, vstar.tracks[1].encoding) == (8, "PCMA")
    assert vstar.session_control is None


def test_tplink_non_numeric_format_uses_its_rtpmap() -> None:
    _, sdp = describe("tplink_sdp.txt")
    app = sdp.tracks[2]
    assert (app.media, app.payload_type, app.encoding, app.clock_rate) == (
        "application",
        95,
        "TP-LINK",
        90000,
    )
    assert app.control == "rtsp://192.168.1.10:554/stream/track3"


def test_ubiquiti_fmtp_keys_lowercased_and_empty_fmtp() -> None:
    _, sdp = describe("ubiquiti_sdp.txt")
    aac, opus, _ = sdp.tracks
    assert aac.fmtp["sizelength"] == "13"  # written "SizeLength=13"
    assert aac.fmtp["indexdeltalength"] == "3"
    assert (opus.encoding, opus.clock_rate, dict(opus.fmtp)) == ("OPUS", 48000, {})


@pytest.mark.parametrize(
    ("describe_file", "play_file"),
    [
        ("gw_main_describe.txt", "gw_main_play.txt"),
        ("gw_sub_describe.txt", "gw_sub_play.txt"),
        ("dahua_describe_h264_aac_onvif.txt", "dahua_play.txt"),
        ("reolink_describe.txt", "reolink_play.txt"),
        ("hikvision_describe.txt", "hikvision_play.txt"),
    ],
)
def test_play_rtp_info_urls_match_resolved_controls(describe_file: str, play_file: str) -> None:
    """The camera's own RTP-Info names the URL our resolution produced."""
    base, sdp = describe(describe_file)
    play = parse_response((DATA / play_file).read_bytes())
    entries = parse_rtp_info(play.header("rtp-info") or "")
    controls = [t.control for t in sdp.tracks]
    assert entries
    for entry in entries:
        assert resolve_control(base, entry["url"]) in controls
    assert resolve_control(base, entries[0]["url"]) == sdp.video().control


def test_bunny_rtp_info_mixes_relative_and_absolute() -> None:
    base, sdp = describe("bunny_describe.txt")
    entries = parse_rtp_info(
        parse_response((DATA / "bunny_play.txt").read_bytes()).header("rtp-info")
    )
    resolved = [resolve_control(base, e["url"]) for e in entries]
    assert resolved == [t.control for t in sdp.tracks]


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://h/camera", "trackID=1", "rtsp://h/camera/trackID=1"),
        ("rtsp://h/camera/", "trackID=1", "rtsp://h/camera/trackID=1"),
        ("rtsp://h:554", "track1", "rtsp://h:554/track1"),
        ("rtsp://h/a?x=1", "video", "rtsp://h/a/video"),
        ("rtsp://h/a?x=1", "*", "rtsp://h/a?x=1"),
        ("rtsp://h/a", "", "rtsp://h/a"),
        ("rtsp://h/a", None, "rtsp://h/a"),
        ("rtsp://h/a/b", "/other/t1", "rtsp://h/other/t1"),
        ("rtsp://h/a/b", "../t1", "rtsp://h/a/t1"),
        ("rtsp://h/a", "t?x=2", "rtsp://h/a/t?x=2"),
        ("rtsp://h/a", "rtsp://other:8554/x/y", "rtsp://other:8554/x/y"),
        ("rtspt://h/a", "t", "rtspt://h/a/t"),
        # credentials never come back in a URL
        ("rtsp://admin:pw@h/a", "trackID=1", "rtsp://h/a/trackID=1"),
        ("rtsp://h/a", "rtsp://admin:pw@h/a/t", "rtsp://h/a/t"),
        ("rtsp://admin:pw@[fe80::1]:554/a", "*", "rtsp://[fe80::1]:554/a"),
    ],
)
def test_resolve_control(base: str, control: str | None, expected: str) -> None:
    assert resolve_control(base, control) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "rtsp://192.168.1.10:554/stream"),
        ({"Content-Base": "rtsp://cam/base/"}, "rtsp://cam/base/"),
        ({"content-location": "rtsp://cam/loc"}, "rtsp://cam/loc"),
        ({"Content-Base": "rtsp://cam/b/", "Content-Location": "rtsp://cam/l/"}, "rtsp://cam/b/"),
        ({"Content-Base": "/relative/"}, "rtsp://192.168.1.10:554/relative/"),
        ({"Content-Base": "10.0.0.5:8554/live/"}, "rtsp://10.0.0.5:8554/live/"),
        ({"Content-Base": "%%% not a url"}, "rtsp://192.168.1.10:554/stream"),
        ({"Content-Base": "  "}, "rtsp://192.168.1.10:554/stream"),
        ({"content-base": ["rtsp://cam/first/", "rtsp://cam/second/"]}, "rtsp://cam/first/"),
        ({"Content-Base": "rtsp://u:secret@cam/x/"}, "rtsp://cam/x/"),
    ],
)
def test_base_url(headers: dict[str, object], expected: str) -> None:
    assert base_url("rtsp://user:pass@192.168.1.10:554/stream", headers) == expected


def test_encoding_alias_and_video_selection() -> None:
    text = (
        "v=0\r\nm=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 26\r\n"
        "m=video 0 RTP/AVP 98\r\na=rtpmap:98 hevc/90000\r\n"
    )
    sdp = parse_sdp(text, "rtsp://h/s")
    assert [t.encoding for t in sdp.tracks] == ["", "", "H265"]
    assert sdp.tracks[1].clock_rate == 90000  # static JPEG
    assert sdp.video() is sdp.tracks[2]
    mjpeg_only = parse_sdp("v=0\nm=video 0 RTP/AVP 26\n", "rtsp://h/s")
    assert mjpeg_only.video() is None


def test_non_rtp_media_and_bad_payload_types_are_skipped() -> None:
    text = (
        "v=0\n"
        "m=application 9 TCP/BFCP *\n"
        "m=video 0 RTP/AVP x y\n"
        "m=video 0 RTP/AVP 200\n"
        "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/notanumber\na=control:v\n"
    )
    sdp = parse_sdp(text, "rtsp://h/s")
    assert len(sdp.tracks) == 1
    assert (sdp.tracks[0].encoding, sdp.tracks[0].clock_rate, sdp.tracks[0].control) == (
        "H264",
        0,
        "rtsp://h/s/v",
    )


@pytest.mark.parametrize(
    "text",
    ["", "v=0\r\ns=no media\r\n", "<html><body>404</body></html>", "\x00\x01\x02", "m"],
)
def test_no_media_is_an_sdp_error(text: str) -> None:
    with pytest.raises(SdpError):
        parse_sdp(text, "rtsp://h/s")


def test_oversized_sdp_is_refused() -> None:
    with pytest.raises(SdpError, match="too large"):
        parse_sdp("m=video 0 RTP/AVP 96\n" * 20000, "rtsp://h/s")


def test_truncated_and_mutated_replies_never_raise_other_errors() -> None:
    rng = random.Random(1234)
    bodies = [parse_response(p.read_bytes()).body for p in DATA.glob("*_describe*.txt")]
    parsed = 0
    for body in bodies:
        for cut in range(0, len(body), 7):
            chars = list(body[:cut])
            for _ in range(3):
                if chars:
                    chars[rng.randrange(len(chars))] = chr(rng.randrange(0x20, 0x250))
            try:
                parse_sdp("".join(chars), "rtsp://h/s")
                parsed += 1
            except SdpError:
                pass
    assert parsed > 100  # most prefixes with an m= line still parse
