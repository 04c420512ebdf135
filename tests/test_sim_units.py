"""The simulator's pure parts: packetizer, RTSP framing, Digest, scenarios, faults."""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

import av
import pytest
from simfixtures import digest_header

from camwatch.rtp.packetize import (
    PacketizeError,
    packetize_access_unit,
    packetize_h264,
    packetize_h265,
    rtp_header,
    split_annexb,
)
from camwatch.sim.auth import AuthResult, Credentials, DigestAuthority
from camwatch.sim.encoder import LoopCache, LoopSpec, encode_loop
from camwatch.sim.faults import FAULT_KINDS, LossModel, active, make_fault, next_boundary
from camwatch.sim.scenario import ScenarioError, build_scenario, load_scenario
from camwatch.sim.session import (
    Interleaved,
    ProtocolError,
    Request,
    RequestReader,
    parse_transport,
    split_uri,
)

EXAMPLES = Path(__file__).parent.parent / "examples" / "scenarios"

# --- packetizer ----------------------------------------------------------------


def depacketize(payloads: list[bytes], codec: str) -> bytes:
    """A minimal RFC 6184 / RFC 7798 reassembler written for this test only."""
    out = bytearray()
    fu = bytearray()
    for p in payloads:
        kind = p[0] & 0x1F if codec == "h264" else (p[0] >> 1) & 0x3F
        agg, frag, hdr = (24, 28, 1) if codec == "h264" else (48, 49, 2)
        if kind == agg:
            pos = hdr
            while pos < len(p):
                size = struct.unpack("!H", p[pos : pos + 2])[0]
                out += b"\x00\x00\x00\x01" + p[pos + 2 : pos + 2 + size]
                pos += 2 + size
        elif kind == frag:
            fu_header = p[hdr]
            if fu_header & 0x80:
                nal_type = fu_header & 0x3F if codec == "h265" else fu_header & 0x1F
                if codec == "h264":
                    fu = bytearray([(p[0] & 0xE0) | nal_type])
                else:
                    fu = bytearray([(p[0] & 0x81) | (nal_type << 1), p[1]])
            fu += p[hdr + 1 :]
            if fu_header & 0x40:
                out += b"\x00\x00\x00\x01" + fu
        else:
            out += b"\x00\x00\x00\x01" + p
    return bytes(out)


def test_split_annexb_handles_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\x00"
    assert split_annexb(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc"]


def test_h264_aggregates_parameter_sets_and_fragments_big_units() -> None:
    sps, pps, idr = b"\x67" + b"\x01" * 20, b"\x68" + b"\x02" * 4, b"\x65" + bytes(range(256)) * 20
    payloads = packetize_h264([sps, pps, idr], mtu=1400)
    assert payloads[0][0] & 0x1F == 24  # STAP-A with both
    assert all(p[0] & 0x1F == 28 for p in payloads[1:])
    assert payloads[1][1] & 0x80 and payloads[-1][1] & 0x40
    assert not any(p[1] & 0xC0 for p in payloads[2:-1])
    assert max(len(p) for p in payloads) <= 1400 - 12
    assert split_annexb(depacketize(payloads, "h264")) == [sps, pps, idr]


def test_h265_aggregates_and_fragments() -> None:
    vps, sps, pps = b"\x40\x01" + b"\x0c" * 10, b"\x42\x01" + b"\x01" * 30, b"\x44\x01\xc0"
    idr = b"\x26\x01" + bytes(range(200)) * 30
    payloads = packetize_h265([vps, sps, pps, idr], mtu=500)
    assert (payloads[0][0] >> 1) & 0x3F == 48
    assert all((p[0] >> 1) & 0x3F == 49 for p in payloads[1:])
    assert max(len(p) for p in payloads) <= 488
    assert split_annexb(depacketize(payloads, "h265")) == [vps, sps, pps, idr]


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_packetized_encoder_output_decodes(codec: str) -> None:
    loop = encode_loop(LoopSpec(codec, 160, 96, 10.0, 5, 1, 200_000))
    decoder = av.CodecContext.create("h264" if codec == "h264" else "hevc", "r")
    decoded = 0
    for unit in loop.frames:
        data = depacketize(list(unit.payloads), codec)
        decoded += len(decoder.decode(av.Packet(data)))
    decoded += len(decoder.decode(None))
    assert decoded == 5
    assert loop.frames[0].keyframe and not any(u.keyframe for u in loop.frames[1:])


def test_packetizer_rejects_nonsense() -> None:
    with pytest.raises(PacketizeError):
        packetize_access_unit(b"", "h264")
    with pytest.raises(PacketizeError):
        packetize_access_unit(b"\x00\x00\x01\x65\x00", "vp8")
    with pytest.raises(PacketizeError):
        packetize_h264([b"\x65" * 100], mtu=40)


def test_rtp_header_layout() -> None:
    header = rtp_header(96, 0x1_0001, 0x1_0000_0002, 0xDEADBEEF, marker=True)
    assert header == bytes([0x80, 0xE0, 0x00, 0x01, 0, 0, 0, 2, 0xDE, 0xAD, 0xBE, 0xEF])


# --- RTSP framing ----------------------------------------------------------------

REQUEST = b"OPTIONS rtsp://h/cam RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: t\r\n\r\n"


def test_reader_assembles_requests_fed_byte_by_byte_and_pipelined() -> None:
    reader = RequestReader()
    got = []
    data = REQUEST + b"$\x01\x00\x03abc" + b"SET_PARAMETER * RTSP/1.0\r\nCSeq: 2\r\n"
    data += b"Content-Length: 5\r\n\r\nhello"
    for i in range(len(data)):
        got += reader.feed(data[i : i + 1])
    assert [type(m) for m in got] == [Request, Interleaved, Request]
    assert got[0].method == "OPTIONS" and got[0].cseq == "1" and got[0].header("user-agent") == "t"
    assert got[1] == Interleaved(1, b"abc")
    assert got[2].body == b"hello"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\x16\x03\x01\x02\x00\x01\x00" * 8, 400),
        (b"hello there\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 505),
        (b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505),
        (b"OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n", 400),
        (b"DESCRIBE * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n", 413),
        (b"DESCRIBE * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 20_000, 400),
        (b"OPTIONS * RTSP/1.0\r\n\xff\xfe: x\r\n\r\n", 400),
    ],
)
def test_reader_rejects_garbage_with_a_status(data: bytes, status: int) -> None:
    with pytest.raises(ProtocolError) as info:
        RequestReader().feed(data)
    assert info.value.status == status


def test_transport_header_parsing() -> None:
    tcp = parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3")
    assert tcp is not None and tcp.tcp and tcp.interleaved == (2, 3)
    udp = parse_transport("RTP/AVP;unicast;client_port=5000-5001")
    assert udp is not None and not udp.tcp and udp.client_port == (5000, 5001)
    offer = parse_transport("RTP/AVP;multicast;port=5000-5001,RTP/AVP/TCP;unicast")
    assert offer is not None and offer.tcp and offer.interleaved is None
    assert parse_transport("RTP/AVP;unicast") is None  # UDP needs client_port
    assert parse_transport("RTP/SAVP;unicast;client_port=1-2") is None
    assert parse_transport("RTP/AVP;unicast;client_port=99999-100000") is None
    assert parse_transport(None) is None


def test_split_uri() -> None:
    assert split_uri("rtsp://h:554/cam01/trackID=0") == ("cam01", "trackID=0")
    assert split_uri("rtsp://h:554/cam01/") == ("cam01", None)
    assert split_uri("/cam%2001?x=1") == ("cam 01", None)
    assert split_uri("*") == (None, None)
    assert split_uri("rtsp://[::1") == (None, None)


# --- Digest ----------------------------------------------------------------------


def test_digest_accepts_rfc2069_and_rfc2617_and_rejects_the_rest() -> None:
    clock = [100.0]
    auth = DigestAuthority(lifetime=60.0, clock=lambda: clock[0])
    creds = Credentials("viewer", "pw")
    uri = "rtsp://h/cam"
    for qop in (False, True):
        challenge = auth.challenge(qop=qop)
        good = digest_header("viewer", "pw", "DESCRIBE", uri, challenge, qop)
        assert auth.check("DESCRIBE", good, creds) is AuthResult.OK
        assert auth.check("SETUP", good, creds) is AuthResult.BAD  # method is hashed in
        bad = digest_header("viewer", "nope", "DESCRIBE", uri, challenge, qop)
        assert auth.check("DESCRIBE", bad, creds) is AuthResult.BAD
        other = digest_header("intruder", "pw", "DESCRIBE", uri, challenge, qop)
        assert auth.check("DESCRIBE", other, creds) is AuthResult.BAD
    assert auth.check("DESCRIBE", None, creds) is AuthResult.MISSING
    assert auth.check("DESCRIBE", "Basic dmlld2VyOnB3", creds) is AuthResult.MISSING
    assert auth.check("DESCRIBE", 'Digest username="viewer', creds) is AuthResult.BAD
    old = digest_header("viewer", "pw", "DESCRIBE", uri, auth.challenge())
    clock[0] += 61
    assert auth.check("DESCRIBE", old, creds) is AuthResult.STALE
    forged = auth.challenge().replace('nonce="', 'nonce="0')
    forged_header = digest_header("viewer", "pw", "DESCRIBE", uri, forged)
    assert auth.check("DESCRIBE", forged_header, creds) is AuthResult.BAD


def test_digest_md5_sess() -> None:
    auth = DigestAuthority()
    nonce = auth.nonce()

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = md5(f"{md5('u:camwatch-sim:p')}:{nonce}:cn")
    response = md5(f"{ha1}:{nonce}:00000001:cn:auth:{md5('PLAY:rtsp://h/c')}")
    header = (
        f'Digest username="u", realm="camwatch-sim", nonce="{nonce}", uri="rtsp://h/c", '
        f'algorithm=MD5-sess, qop=auth, nc=00000001, cnonce="cn", response="{response}"'
    )
    assert auth.check("PLAY", header, Credentials("u", "p")) is AuthResult.OK


# --- scenarios ---------------------------------------------------------------


def test_builtins_and_overrides() -> None:
    healthy = build_scenario(None, cameras=12, codec="h265", size="320x180", fps=10, seed=4)
    assert len(healthy.cameras) == 12 and healthy.faults == ()
    assert {(c.codec, c.width, c.height, c.fps) for c in healthy.cameras} == {
        ("h265", 320, 180, 10)
    }
    assert healthy.cameras[0].name == "cam01" and healthy.seed == 4
    demo = build_scenario("demo")
    assert len(demo.cameras) == 16 and {c.site for c in demo.cameras} == {"north", "south"}
    assert {"stall", "frozen", "covered", "packet_loss", "offline"} <= {f.kind for f in demo.faults}
    assert demo.repeat
    faults = build_scenario("faults")
    assert sorted(f.kind for f in faults.faults) == sorted(FAULT_KINDS)
    assert len({f.camera for f in faults.faults}) == len(FAULT_KINDS)


def test_example_files_load() -> None:
    files = sorted(EXAMPLES.glob("*.toml"))
    assert files
    for path in files:
        scenario = load_scenario(path)
        assert scenario.cameras


def test_file_scenario_with_groups_overrides_and_faults(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        """
        [defaults]
        fps = 12
        [[cameras]]
        name = "gate"
        codec = "h265"
        user = "u"
        password = "p"
        [[cameras]]
        prefix = "lobby-"
        count = 3
        [[faults]]
        camera = ["gate", "lobby-02"]
        fault = "packet_loss"
        start = 5
        end = 9
        percent = 7
        """
    )
    s = build_scenario(str(path), fps=20, bitrate="1M")
    assert [c.name for c in s.cameras] == ["gate", "lobby-01", "lobby-02", "lobby-03"]
    gate = s.camera("gate")
    assert (gate.codec, gate.fps, gate.bitrate, gate.user) == ("h265", 20.0, 1_000_000, "u")
    assert [(f.camera, f.param("percent"), f.param("burst")) for f in s.faults] == [
        ("gate", 7.0, 1.0),
        ("lobby-02", 7.0, 1.0),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cameras = 2\nbogus = 1", "unknown key(s) bogus"),
        ("cameras = 2\n[[faults]]\ncamera='cam09'\nfault='stall'\nstart=1", "no camera named"),
        ("cameras = 2\n[[faults]]\ncamera='cam01'\nfault='melt'\nstart=1", "unknown fault"),
        (
            "cameras = 2\n[[faults]]\ncamera='cam01'\nfault='stall'\nstart=5\nend=2",
            "must be after start",
        ),
        (
            "cameras = 2\n[[faults]]\ncamera='cam01'\nfault='packet_loss'\nstart=1\npercent=150",
            "percent in [0, 100)",
        ),
        (
            "cameras = 2\n[[faults]]\ncamera='cam01'\nfault='jitter'\nstart=1\nfoo=2",
            "unknown param",
        ),
        ("[[cameras]]\nname='a'\n[[cameras]]\nname='a'", "used twice"),
        ("[[cameras]]\nname='a/b'", "must be 1-64 letters"),
        ("[[cameras]]\nname='a'\nuser='x'", "both user and password"),
        ("[defaults]\nsize='641x360'\n[[cameras]]\nname='a'", "need even width"),
        ("[defaults]\ncodec='mjpeg'\n[[cameras]]\nname='a'", "not h264 or h265"),
        ("cameras = [", "not valid TOML"),
        (
            "repeat = 10\ncameras = 1\n[[faults]]\ncamera='cam01'\nfault='stall'\nstart=1\nend=20",
            "must end by then",
        ),
    ],
)
def test_bad_scenarios_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        build_scenario(str(path))
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_scenario_name() -> None:
    with pytest.raises(ScenarioError, match="no built-in scenario or file named 'nope'"):
        build_scenario("nope")
    with pytest.raises(ScenarioError, match="unknown scenario override"):
        build_scenario("healthy", colour="red")


# --- fault schedule and loss -----------------------------------------------


def test_schedule_with_and_without_repeat() -> None:
    a = make_fault("c", "stall", 10, 20)
    b = make_fault("c", "black", 15, None)
    faults = (a, b)
    assert active(faults, 5, None) == []
    assert [o.fault.kind for o in active(faults, 16, None)] == ["stall", "black"]
    assert [o.fault.kind for o in active(faults, 25, None)] == ["black"]
    assert next_boundary(faults, 0, None) == 10
    assert next_boundary(faults, 16, None) == 20
    assert next_boundary(faults, 20, None) is None
    repeating = (a,)
    occ = active(repeating, 72, 30)
    assert len(occ) == 1 and (occ[0].index, occ[0].start, occ[0].end) == (2, 70, 80)
    assert active(repeating, 65, 30) == []
    assert next_boundary(repeating, 65, 30) == 70
    assert next_boundary(repeating, 70, 30) == 80


@pytest.mark.parametrize("burst", [1.0, 5.0])
def test_loss_model_rate_and_burst_length(burst: float) -> None:
    model = LossModel(10.0, burst, random.Random(3))
    lost = [model.lost() for _ in range(200_000)]
    assert abs(sum(lost) / len(lost) - 0.10) < 0.01
    runs, current = [], 0
    for x in lost:
        if x:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    mean_run = sum(runs) / len(runs)
    assert abs(mean_run - burst) < 0.15 * burst + 0.15


# --- encoder cache -----------------------------------------------------------


def test_cache_shares_equal_loops_and_encodes_each_once() -> None:
    cache = LoopCache()
    try:
        spec = LoopSpec("h264", 128, 72, 10.0, 5, 2, 100_000, scene=3)
        first = cache.request(spec).result(30)
        again = cache.request(spec).result(30)
        other = cache.request(spec.with_look("black")).result(30)
    finally:
        cache.close()
    assert first is again
    assert other is not first and other.spec.look == "black"
    assert [u.keyframe for u in first.frames] == [True, False, False, False, False] * 2
    assert [n[0] & 0x1F for n in first.parameter_sets] == [7, 8]
