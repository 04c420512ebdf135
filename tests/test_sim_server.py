"""The simulator's RTSP server against real clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import threading

import pytest
from simfixtures import (
    RawRtsp,
    RtpCapture,
    camera,
    digest_header,
    ffprobe,
    loss_ratio,
    scenario,
)

from camwatch.sim.server import SimServer

TCP_PLAY = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}


async def setup_play(client: RawRtsp, url: str, headers: dict | None = None) -> str:
    """SETUP over TCP and PLAY; returns the session id."""
    extra = headers or {}
    resp = await client.request("SETUP", f"{url}/trackID=0", {**TCP_PLAY, **extra})
    assert resp.status == 200, resp
    session = resp.headers["session"].split(";")[0]
    resp = await client.request("PLAY", url, {"Session": session, **extra})
    assert resp.status == 200, resp
    return session


async def test_ffprobe_reads_configured_codec_size_and_rate_over_tcp_and_udp() -> None:
    cams = [
        camera("avc", codec="h264", width=640, height=360, fps=15.0, gop=2.0),
        camera("hevc", codec="h265", width=480, height=270, fps=10.0, gop=1.0),
    ]
    async with SimServer(scenario(cams, loop=4.0)) as sim:
        jobs = {
            (name, transport): ffprobe(sim.url(name), transport)
            for name in ("avc", "hevc")
            for transport in ("tcp", "udp")
        }
        results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    expected = {
        "avc": {"codec_name": "h264", "width": 640, "height": 360, "r_frame_rate": "15/1"},
        "hevc": {"codec_name": "hevc", "width": 480, "height": 270, "r_frame_rate": "10/1"},
    }
    for (name, transport), got in results.items():
        picked = {k: got.get(k) for k in expected[name]}
        assert picked == expected[name], (name, transport, got)


async def test_sdp_and_rtp_info_describe_the_stream() -> None:
    async with SimServer(scenario([camera("cam")])) as sim:
        client = await RawRtsp.connect(sim.port)
        url = sim.url("cam")
        resp = await client.request("DESCRIBE", url, {"Accept": "application/sdp"})
        sdp = resp.body.decode()
        assert resp.status == 200
        assert resp.headers["content-base"] == url + "/"
        assert "a=rtpmap:96 H264/90000" in sdp and "sprop-parameter-sets=" in sdp
        assert "a=control:trackID=0" in sdp and "a=framerate:10" in sdp
        resp = await client.request("SETUP", f"{url}/trackID=0", TCP_PLAY)
        session, _, timeout = resp.headers["session"].partition(";")
        assert timeout == "timeout=60"
        assert f"ssrc={sim.cameras['cam'].ssrc:08X}" in resp.headers["transport"]
        resp = await client.request("PLAY", url + "/", {"Session": session})
        info = resp.headers["rtp-info"]
        assert info.startswith(f"url={url}/trackID=0;seq=") and ";rtptime=" in info
        await client.close()


async def test_unknown_path_and_track_answer_404() -> None:
    async with SimServer(scenario([camera("cam")])) as sim:
        client = await RawRtsp.connect(sim.port)
        base = f"rtsp://127.0.0.1:{sim.port}"
        assert (await client.request("DESCRIBE", f"{base}/nope")).status == 404
        assert (await client.request("OPTIONS", f"{base}/nope")).status == 404
        resp = await client.request("SETUP", f"{base}/cam/trackID=7", TCP_PLAY)
        assert resp.status == 404
        assert (await client.request("OPTIONS", "*")).status == 200
        assert (await client.request("DESCRIBE", f"{base}/cam")).status == 200
        await client.close()


async def test_garbage_gets_400_and_other_clients_keep_streaming() -> None:
    async with SimServer(scenario([camera("cam")])) as sim:
        async with RtpCapture(sim.url("cam")) as capture:
            await asyncio.sleep(1.5)
            before = len(capture.packets)
            assert before > 0
            for garbage in (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 10,  # a TLS hello
                b"HELLO\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\nBroken header line\r\n\r\n",
                b"A" * 40_000,
            ):
                bad = await RawRtsp.connect(sim.port)
                await bad.send_raw(garbage)
                status_line = await asyncio.wait_for(bad.reader.readline(), 5)
                assert status_line.split(b" ")[1] in (b"400", b"505"), (garbage[:20], status_line)
                assert await bad.closed_by_peer()
                await bad.close()
            await asyncio.sleep(1.0)
            assert len(capture.packets) > before + 5
            assert loss_ratio(capture.packets) == 0.0
        good = await RawRtsp.connect(sim.port)
        assert (await good.request("DESCRIBE", sim.url("cam"))).status == 200
        await good.close()
        assert sim.stats()["counters"]["bad_requests"] == 5


async def test_digest_auth_with_and_without_qop() -> None:
    cams = [
        camera("locked", user="viewer", password="s3cret-pw"),
        camera("qop", user="viewer", password="s3cret-pw", qop=True),
    ]
    async with SimServer(scenario(cams)) as sim:
        client = await RawRtsp.connect(sim.port)
        for name, qop in (("locked", False), ("qop", True)):
            url = sim.url(name)
            resp = await client.request("DESCRIBE", url)
            assert resp.status == 401
            challenge = resp.headers["www-authenticate"]
            assert challenge.startswith("Digest ") and ('qop="auth"' in challenge) == qop
            wrong = digest_header("viewer", "guess", "DESCRIBE", url, challenge, qop)
            assert (await client.request("DESCRIBE", url, {"Authorization": wrong})).status == 401
            right = digest_header("viewer", "s3cret-pw", "DESCRIBE", url, challenge, qop)
            resp = await client.request("DESCRIBE", url, {"Authorization": right})
            assert resp.status == 200 and b"H264" in resp.body
        assert (await client.request("OPTIONS", sim.url("locked"))).status == 200
        await client.close()
        plain = sim.url("locked").replace("rtsp://", "rtsp://viewer:s3cret-pw@")
        wrong = sim.url("qop").replace("rtsp://", "rtsp://viewer:nope@")
        probe, refused = await asyncio.gather(ffprobe(plain, "tcp"), ffprobe(wrong, "tcp"))
        assert probe.get("codec_name") == "h264", probe
        assert "401" in refused.get("error", ""), refused
        async with RtpCapture(sim.url("locked"), username="viewer", password="s3cret-pw") as cap:
            await asyncio.sleep(1.2)
        assert len(cap.packets) > 0


async def test_session_errors_use_the_rtsp_status_codes() -> None:
    async with SimServer(scenario([camera("a"), camera("b")])) as sim:
        client = await RawRtsp.connect(sim.port)
        a, b = sim.url("a"), sim.url("b")
        assert (await client.request("PLAY", a)).status == 454
        assert (await client.request("PLAY", a, {"Session": "deadbeef"})).status == 454
        assert (await client.request("GET_PARAMETER", a, {"Session": "deadbeef"})).status == 454
        multicast = {"Transport": "RTP/AVP;multicast;port=5000-5001"}
        assert (await client.request("SETUP", f"{a}/trackID=0", multicast)).status == 461
        session = await setup_play(client, a)
        again = {**TCP_PLAY, "Session": session}
        assert (await client.request("SETUP", f"{a}/trackID=0", again)).status == 455
        assert (await client.request("PLAY", b, {"Session": session})).status == 459
        assert (await client.request("GET_PARAMETER", a, {"Session": session})).status == 200
        assert (await client.request("ANNOUNCE", a)).status == 405
        assert (await client.request("FLY", a)).status == 501
        assert (await client.request("PAUSE", a, {"Session": session})).status == 200
        assert (await client.request("TEARDOWN", a, {"Session": session})).status == 200
        assert (await client.request("PLAY", a, {"Session": session})).status == 454
        # A request without CSeq is answered 400 and the connection stays usable.
        await client.send_raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
        assert (await client.read_response()).status == 400
        assert (await client.request("OPTIONS", a)).status == 200
        await client.close()


async def test_session_without_keepalive_times_out_and_keepalive_keeps_it() -> None:
    async with SimServer(scenario([camera("cam")]), session_timeout=1.0) as sim:
        silent = await RawRtsp.connect(sim.port)
        chatty = await RawRtsp.connect(sim.port)
        await setup_play(silent, sim.url("cam"))
        session = await setup_play(chatty, sim.url("cam"))
        for _ in range(8):  # 2.4 s, well past the 1 s timeout
            await asyncio.sleep(0.3)
            resp = await chatty.request("GET_PARAMETER", sim.url("cam"), {"Session": session})
            assert resp.status == 200
        assert await silent.closed_by_peer(within=3.0)
        frames = chatty.rtp_frames
        await asyncio.sleep(0.5)
        await chatty.request("OPTIONS", sim.url("cam"), {"Session": session})
        assert chatty.rtp_frames > frames
        assert sim.stats()["counters"]["expired_sessions"] == 1
        await silent.close()
        await chatty.close()


async def test_two_dozen_concurrent_clients_get_their_streams() -> None:
    cams = [camera(f"c{i}", scene=i) for i in range(4)]
    async with SimServer(scenario(cams)) as sim:
        captures = [RtpCapture(sim.url(f"c{i % 4}")) for i in range(24)]
        captures += [RtpCapture(sim.url(f"c{i}"), tcp=False) for i in range(2)]
        await asyncio.gather(*(c.__aenter__() for c in captures))
        await asyncio.sleep(2.5)
        stats = sim.stats()
        await asyncio.gather(*(c.__aexit__(None, None, None) for c in captures))
    for capture in captures:
        assert len(capture.packets) >= 10, capture.url
        assert loss_ratio(capture.packets) == 0.0, capture.url
        assert any(p.marker for p in capture.packets)
    assert sum(c["clients"] for c in stats["cameras"].values()) == 26
    ssrcs = {sim.cameras[f"c{i}"].ssrc for i in range(4)}
    assert len(ssrcs) == 4


async def test_stop_closes_every_client_socket_and_task() -> None:
    sim = SimServer(scenario([camera("cam")]))
    await sim.start()
    port = sim.port
    capture = await RtpCapture(sim.url("cam")).__aenter__()
    udp = await RtpCapture(sim.url("cam"), tcp=False).__aenter__()
    idle = await RawRtsp.connect(port)
    await asyncio.sleep(0.5)
    await sim.stop()
    assert await idle.closed_by_peer(within=2.0)
    assert not sim.connections and not sim.sessions
    assert sim.stats()["cameras"]["cam"]["clients"] == 0
    with pytest.raises(OSError):
        await RawRtsp.connect(port)
    await asyncio.gather(capture.__aexit__(None), udp.__aexit__(None), idle.close())
    await asyncio.sleep(0.1)
    mine = [t for t in asyncio.all_tasks() if t.get_name().startswith("sim-")]
    assert mine == []
    assert not [t for t in threading.enumerate() if t.name.startswith("sim-encode")]


async def test_a_client_that_stops_reading_is_dropped_not_buffered() -> None:
    limit = 32 * 1024
    async with SimServer(scenario([camera("cam")]), send_buffer_limit=limit) as sim:
        async with RtpCapture(sim.url("cam")) as healthy:
            stuck = await RawRtsp.connect(sim.port)
            stuck_sock = stuck.writer.get_extra_info("socket")
            stuck_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            await setup_play(stuck, sim.url("cam"))
            conn = next(c for c in sim.connections if c.peer[1] == stuck_sock.getsockname()[1])
            server_sock = conn.transport.get_extra_info("socket")
            server_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            stuck.reader._transport.pause_reading()  # stop reading, like a hung client
            await asyncio.sleep(3.0)
            buffered = conn.transport.get_write_buffer_size()
            dropped = sim.stats()["cameras"]["cam"]["packets_dropped"]
            assert dropped > 0
            assert buffered < limit + 64 * 1024  # at most one frame over the limit
            assert loss_ratio(healthy.packets) == 0.0 and len(healthy.packets) > 10
        await stuck.close()


async def _fuzz_one(port: int, rng: random.Random) -> None:
    valid = (
        f"SETUP rtsp://127.0.0.1:{port}/cam/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        "Transport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n"
    ).encode()
    choice = rng.random()
    if choice < 0.3:
        data = rng.randbytes(rng.randint(1, 3000))
    elif choice < 0.6:
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        data = bytes(mutated)
    elif choice < 0.8:
        data = b"$" + rng.randbytes(rng.randint(0, 100))
    else:
        data = valid[: rng.randint(0, len(valid))]
    client = await RawRtsp.connect(port)
    await client.send_raw(data)
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        await asyncio.wait_for(client.reader.read(4096), 0.1)
    if rng.random() < 0.5:
        client.writer.transport.abort()  # vanish without a FIN
    await client.close()


async def test_random_garbage_never_disturbs_a_streaming_client(caplog) -> None:
    async with SimServer(scenario([camera("cam")])) as sim:
        async with RtpCapture(sim.url("cam")) as capture:
            gate = asyncio.Semaphore(30)

            async def fuzz(seed: int) -> None:
                async with gate:
                    await _fuzz_one(sim.port, random.Random(seed))

            await asyncio.gather(*(fuzz(seed) for seed in range(150)))
            before = len(capture.packets)
            await asyncio.sleep(0.8)
            assert len(capture.packets) > before
            assert loss_ratio(capture.packets) == 0.0
        await asyncio.sleep(0.1)
        assert len(sim.connections) == 0
        assert sim.stats()["counters"]["bad_requests"] > 20
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
