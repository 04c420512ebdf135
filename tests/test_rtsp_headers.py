"""RTSP header parsers on real camera replies (tests/data/retina) and hand-made quirks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from camwatch.rtsp.headers import (
    HeaderError,
    parse_port_range,
    parse_response,
    parse_rtp_info,
    parse_session,
    parse_transport,
    parse_www_authenticate,
)

DATA = Path(__file__).parent / "data" / "retina"


def reply(name: str):
    return parse_response((DATA / name).read_bytes())


# file -> (session id, timeout) as written by the camera
SESSIONS = {
    "bunny_setup.txt": ("1642021126", 60),
    "bunny_play.txt": ("551045787", 60),
    "dahua_options.txt": ("136527041864", None),
    "dahua_setup.txt": ("634214675641", 60),
    "dahua_play.txt": ("634214684047", None),
    "gw_main_setup_video.txt": ("9a90de54", 60),  # "9a90de54; timeout=60"
    "gw_main_setup_audio.txt": ("9a90de54", 60),
    "gw_main_play.txt": ("9a90de54", 120),
    "gw_sub_setup.txt": ("9b0d0e54", 60),
    "gw_sub_play.txt": ("9b0d0e54", 120),
    "h264dvr_setup_video.txt": ("231970", 60),
    "h264dvr_setup_audio.txt": ("231980", 60),
    "h264dvr_play.txt": ("231970", None),
    "hikvision_setup.txt": ("708345999", 60),  # "Session:        708345999;timeout=60"
    "hikvision_play.txt": ("708345999", None),
    "laureii_play.txt": ("1234567890", None),
    "luckfox_rkipc_setup_tcp.txt": ("12345678", None),
    "reolink_setup.txt": ("F8F8E425", None),
    "reolink_play.txt": ("F8F8E425", None),
}


@pytest.mark.parametrize(("name", "expected"), sorted(SESSIONS.items()))
def test_session_header_of_real_replies(name: str, expected: tuple[str, int | None]) -> None:
    assert parse_session(reply(name).header("Session")) == expected


def test_every_setup_and_play_file_is_covered() -> None:
    on_disk = {p.name for p in DATA.glob("*_setup*.txt")} | {
        p.name for p in DATA.glob("*_play.txt")
    }
    assert on_disk <= set(SESSIONS)


TRANSPORTS = {
    "bunny_setup.txt": {"protocol": "RTP/AVP/TCP", "unicast": None, "interleaved": "0-1"},
    "dahua_setup.txt": {
        "protocol": "RTP/AVP/TCP",
        "unicast": None,
        "interleaved": "0-1",
        "ssrc": "30A98EE7",
    },
    "gw_main_setup_audio.txt": {
        "protocol": "RTP/AVP/TCP",
        "unicast": None,
        "destination": "192.168.1.210",
        "source": "192.168.1.110",
        "interleaved": "2-3",
    },
    "h264dvr_setup_video.txt": {
        "protocol": "RTP/AVP",
        "unicast": None,
        "mode": "PLAY",
        "source": "127.0.0.1",
        "client_port": "18714-18715",
        "server_port": "40004-40005",
        "ssrc": "0",
    },
    "hikvision_setup.txt": {
        "protocol": "RTP/AVP/TCP",
        "unicast": None,
        "interleaved": "0-1",
        "ssrc": "4cacc3d1",
        "mode": "play",  # written mode="play"
    },
    "luckfox_rkipc_setup_tcp.txt": {
        "protocol": "RTP/AVP/TCP",
        "ssrc": "22345684",
        "interleaved": "0-1",
    },
}


@pytest.mark.parametrize(("name", "expected"), sorted(TRANSPORTS.items()))
def test_transport_header_of_real_replies(name: str, expected: dict[str, str | None]) -> None:
    assert parse_transport(reply(name).header("transport")) == expected


def test_transport_first_spec_only_and_odd_spacing() -> None:
    value = " rtp/avp ; unicast ; client_port = 5000-5001 ; ssrc= 0x1F ,RTP/AVP/TCP;interleaved=0-1"
    assert parse_transport(value) == {
        "protocol": "RTP/AVP",
        "unicast": None,
        "client_port": "5000-5001",
        "ssrc": "0x1F",
    }
    assert parse_transport("") == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0-1", (0, 1)),
        ("2-3", (2, 3)),
        ("40004-40005", (40004, 40005)),
        ("5000", (5000, 5001)),
        (None, None),
        ("", None),
        ("a-b", None),
        ("1-", None),
        ("70000-70001", None),
    ],
)
def test_port_range(value: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_port_range(value) == expected


RTP_INFOS = {
    "bunny_play.txt": [
        {"url": "trackID=1", "seq": "1", "rtptime": "0"},
        {
            "url": "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=2",
            "seq": "1",
            "rtptime": "0",
        },
    ],
    "dahua_play.txt": [
        {"url": "trackID=0", "seq": "47121", "rtptime": "3475222385"},
        {"url": "trackID=1", "seq": "45186", "rtptime": "2234446919"},
        {"url": "trackID=4", "seq": "36583", "rtptime": "816418535"},
    ],
    "hikvision_play.txt": [
        {
            "url": "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1"
            "?transportmode=unicast&profile=Profile_1",
            "seq": "24104",
            "rtptime": "1270711678",
        }
    ],
    "laureii_play.txt": [  # trailing ";"
        {"url": "rtsp://192.168.1.19:554/0/main/trackID=0", "seq": "0", "rtptime": "0"}
    ],
    "reolink_play.txt": [
        {"url": "trackID=1", "seq": "16852", "rtptime": "1070938629", "ssrc": "dcc4a0d8"},
        {"url": "trackID=2", "seq": "39409", "rtptime": "3075976528", "ssrc": "9fc9fff8"},
    ],
    "gw_main_play.txt": [
        {"url": "rtsp://192.168.1.110:5050/H264/video", "seq": "271", "rtptime": "1621990950"}
    ],
}


@pytest.mark.parametrize(("name", "expected"), sorted(RTP_INFOS.items()))
def test_rtp_info_of_real_replies(name: str, expected: list[dict[str, str]]) -> None:
    assert parse_rtp_info(reply(name).header("RTP-Info")) == expected


def test_rtp_info_keeps_commas_inside_urls() -> None:
    value = "url=rtsp://h/a,b/trackID=1;seq=5;rtptime=7, url=trackID=2;seq=6"
    assert parse_rtp_info(value) == [
        {"url": "rtsp://h/a,b/trackID=1", "seq": "5", "rtptime": "7"},
        {"url": "trackID=2", "seq": "6"},
    ]
    assert parse_rtp_info("") == []


def test_session_quirks() -> None:
    assert parse_session("12345678;timeout=60") == ("12345678", 60)
    assert parse_session("  abc ;  Timeout = 30 ") == ("abc", 30)
    assert parse_session("abc;timeout=soon") == ("abc", None)
    assert parse_session("abc;timeout=0") == ("abc", None)
    assert parse_session('abc;timeout="45"') == ("abc", 45)
    for bad in ("", "   ", ";timeout=60"):
        with pytest.raises(HeaderError):
            parse_session(bad)


# ------------------------------------------------------------------ authentication


def test_longse_digest_challenge() -> None:
    r = reply("longse_unauthorized.txt")
    assert (r.status, r.reason) == (401, "Unauthorized")
    challenges = parse_www_authenticate(r.header_values("WWW-Authenticate"))
    assert [c.scheme for c in challenges] == ["digest"]
    assert dict(challenges[0].params) == {"realm": "Surveillance Server", "nonce": "98481030"}


DIGEST = (
    'Digest realm="IP Camera(C2358)", nonce="a1b2, c3", qop="auth,auth-int", '
    "stale=FALSE, algorithm=MD5"
)
BASIC = 'Basic realm="IP Camera(C2358)"'


def _summary(values: str | list[str]) -> list[tuple[str, dict[str, str]]]:
    return [(c.scheme, dict(c.params)) for c in parse_www_authenticate(values)]


DIGEST_PARAMS = {
    "realm": "IP Camera(C2358)",
    "nonce": "a1b2, c3",
    "qop": "auth,auth-int",
    "stale": "FALSE",
    "algorithm": "MD5",
}
BASIC_PARAMS = {"realm": "IP Camera(C2358)"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([BASIC, DIGEST], [("basic", BASIC_PARAMS), ("digest", DIGEST_PARAMS)]),
        ([DIGEST, BASIC], [("digest", DIGEST_PARAMS), ("basic", BASIC_PARAMS)]),
        (f"{BASIC}, {DIGEST}", [("basic", BASIC_PARAMS), ("digest", DIGEST_PARAMS)]),
        (f"{DIGEST}, {BASIC}", [("digest", DIGEST_PARAMS), ("basic", BASIC_PARAMS)]),
    ],
    ids=[
        "basic-then-digest-headers",
        "digest-then-basic-headers",
        "basic-digest-one-header",
        "digest-basic-one-header",
    ],
)
def test_basic_and_digest_offers_in_both_orders(values: str | list[str], expected: list) -> None:
    assert _summary(values) == expected


def test_challenge_quirks() -> None:
    # blanks instead of commas between parameters, odd case, blanks around "="
    assert _summary('DIGEST Realm = "r"  nonce="n"') == [("digest", {"realm": "r", "nonce": "n"})]
    # escaped quote inside a quoted string, opaque with a comma
    assert _summary(r'Digest realm="a \"b\"", opaque="x,y"') == [
        ("digest", {"realm": 'a "b"', "opaque": "x,y"})
    ]
    # a bare scheme, a token68 scheme and an unterminated quote
    assert _summary(
        'Basic, Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQ==, Digest realm="open'
    ) == [
        ("basic", {}),
        ("negotiate", {"token68": "YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQ=="}),
        ("digest", {"realm": "open"}),
    ]
    assert _summary(["", ",,,", "=garbage"]) == []


def test_challenge_parser_survives_random_text() -> None:
    rng = random.Random(99)
    alphabet = 'Digest Basic realm= nonce="\\,; \t=abc'
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        for challenge in parse_www_authenticate(text):
            assert challenge.scheme == challenge.scheme.lower()
            assert all(key == key.lower() for key in challenge.params)


# ------------------------------------------------------------------ whole responses


def test_parse_response_headers_and_body() -> None:
    r = reply("ipcam_describe.txt")
    assert (r.status, r.reason) == (200, "OK")
    assert r.header("content-type") == "application/sdp"
    assert r.header("Content-Length") == "476"
    assert len(r.body.encode()) == 476
    assert r.body.startswith("v=0\r\n")
    # a repeated header becomes a list, in order
    assert r.headers["x-notes"] == [
        "This camera claims manufacturer IPCAM, model C9F0SeZ3N0PbL0, "
        "firmware V13.1.48.16.3-20200320.",
        "These headers are made up; the SDP is as returned by the camera.",
    ]
    assert r.header_values("cseq") == ["1"]
    assert r.header("missing") is None and r.header_values("missing") == []


def test_parse_response_quirks() -> None:
    raw = b"RTSP/1.0 200\nCSeq: 1 \nX-Long: a\n  b\nContent-Length: 3\n\nabcEXTRA"
    r = parse_response(raw)
    assert (r.status, r.reason, r.header("cseq"), r.header("x-long"), r.body) == (
        200,
        "",
        "1",
        "a b",
        "abc",
    )
    assert parse_response(b"RTSP/1.0 454 Session Not Found\r\n\r\n").status == 454


@pytest.mark.parametrize(
    "raw",
    [b"", b"HTTP/1.1 200 OK\r\n\r\n", b"\x00\xff garbage", b"RTSP/1.0 twohundred OK\r\n\r\n"],
)
def test_parse_response_rejects_non_rtsp(raw: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_response(raw)


def test_truncated_replies_raise_only_header_error() -> None:
    for path in DATA.glob("*_*.txt"):
        raw = path.read_bytes()
        for cut in range(len(raw)):
            try:
                r = parse_response(raw[:cut])
            except HeaderError:
                continue
            assert 100 <= r.status <= 999
