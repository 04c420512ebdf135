"""The ingest core against a real RTSP server (Debian's gst-rtsp-server)
and a real third-party client (ffprobe) as a cross-check."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest
from conftest import CAM_PASSWORD, CAM_USER
from gst import GstServer, free_port, require_gst

from camwatch.bus import LocalBus
from camwatch.camera import CameraMonitor, CameraTarget, MonitorSettings
from camwatch.decode import DecodePool
from camwatch.probe import probe
from camwatch.state import Status, StatusChanged

ENCODED_PASSWORD = quote(CAM_PASSWORD, safe="")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camwatch", *args], capture_output=True, text=True, timeout=timeout
    )


def probe_json(url: str, *extra: str) -> tuple[int, dict]:
    r = run_cli("probe", url, "--json", "--seconds", "3", *extra)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)


def ffprobe(url: str, transport: str = "tcp") -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return json.loads(out)["streams"][0]


@pytest.mark.parametrize(
    ("path", "transport", "codec", "size", "fps"),
    [
        ("/h264", "tcp", "h264", (640, 360), 15),
        ("/h265", "tcp", "h265", (640, 360), 15),
        ("/h264", "udp", "h264", (640, 360), 15),
        ("/h265", "udp", "h265", (640, 360), 15),
        ("/h264-720", "tcp", "h264", (1280, 720), 25),
    ],
)
def test_probe_reports_what_the_server_sends(
    gst_server: GstServer, path: str, transport: str, codec: str, size: tuple[int, int], fps: int
) -> None:
    code, report = probe_json(gst_server.url(path), "--transport", transport)
    assert code == 0, report
    assert report["state"] == "live"
    assert report["codec"] == codec and report["transport"] == transport
    assert (report["width"], report["height"]) == size
    assert report["fps"] == pytest.approx(fps, rel=0.1)
    assert report["keyframes_decoded"] >= 1 and report["decode_errors"] == 0
    assert report["packets_received"] > 0 and report["packets_lost"] == 0
    assert report["gop_s"] == pytest.approx(1.0, abs=0.15)  # the server's GOP is fps frames
    assert report["bitrate_bps"] > 10_000 and report["first_frame_ms"] is not None
    # A real third-party client sees the same stream.
    other = ffprobe(gst_server.url(path), transport)
    assert {"h264": "h264", "h265": "hevc"}[codec] == other["codec_name"]
    assert (other["width"], other["height"]) == size


def test_digest_auth_with_percent_encoded_password(gst_auth_server: GstServer) -> None:
    url = gst_auth_server.url("/h264", userinfo=f"{CAM_USER}:{ENCODED_PASSWORD}")
    r = run_cli("-vv", "probe", url, "--seconds", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "live" in r.stdout
    everything = r.stdout + r.stderr
    for secret in (CAM_PASSWORD, ENCODED_PASSWORD, "p@ss"):
        assert secret not in everything
    assert f"{CAM_USER}:***@" in r.stdout
    assert "Traceback" not in everything and "InvalidStateError" not in everything


def test_wrong_password_is_auth_failed(gst_auth_server: GstServer) -> None:
    code, report = probe_json(gst_auth_server.url("/h264", userinfo=f"{CAM_USER}:nope"))
    assert (code, report["state"]) == (2, "auth_failed")
    assert "credentials" in report["reason"] and "nope" not in json.dumps(report)


def test_missing_credentials_is_auth_failed(gst_auth_server: GstServer) -> None:
    code, report = probe_json(gst_auth_server.url("/h264"))
    assert (code, report["state"]) == (2, "auth_failed")
    assert "requires" in report["reason"]


def test_wrong_path_is_not_found(gst_server: GstServer) -> None:
    code, report = probe_json(gst_server.url("/no-such-stream"))
    assert (code, report["state"]) == (2, "not_found")


def test_closed_port_is_offline_at_once() -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    code, report = probe_json(f"rtsp://127.0.0.1:{port}/x")
    assert (code, report["state"]) == (2, "offline")
    assert "refused" in report["reason"]
    assert time.monotonic() - t0 < 5


def test_silent_server_fails_within_the_connect_timeout() -> None:
    # A camera whose TCP stack accepts but whose RTSP server hangs.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        t0 = time.monotonic()
        code, report = probe_json(f"rtsp://127.0.0.1:{srv.getsockname()[1]}/x", "--timeout", "2")
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        th.join()
        for s in held:
            s.close()
        srv.close()
    assert (code, report["state"]) == (2, "offline")
    assert "within 2 s" in report["reason"]
    assert elapsed < 8


async def test_probe_api_reports_h265_profile(gst_server: GstServer) -> None:
    target = CameraTarget("cam", gst_server.url("/h265"), gst_server.url("/h265"))
    result = await probe(target, 2.0)
    assert result.state.status is Status.LIVE
    assert result.state.info is not None and result.state.info.profile == "Main"
    assert result.exit_code == 0


async def test_server_death_and_return_are_followed() -> None:
    """Stopping the server mid-stream: stalled/offline within the timeout;
    restarting it: live again, by itself."""
    require_gst()
    server = GstServer(free_port()).start()
    bus = LocalBus()
    sub = bus.subscribe()
    pool = DecodePool(1)
    settings = MonitorSettings(
        stall_timeout=2, connect_timeout=2, backoff_initial=0.5, backoff_max=1.5
    )
    target = CameraTarget("cam", server.url("/h264"), server.url("/h264"))
    monitor = CameraMonitor(target, bus, pool, settings)
    task = asyncio.create_task(monitor.run())
    try:
        await _wait_status(monitor, {Status.LIVE}, 15)
        server.stop()
        t0 = time.monotonic()
        await _wait_status(monitor, {Status.STALLED, Status.OFFLINE}, 10)
        assert time.monotonic() - t0 <= settings.stall_timeout + 1.5
        server.start()
        await _wait_status(monitor, {Status.LIVE}, 20)
        assert monitor.state.reconnects >= 1
    finally:
        monitor.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        pool.shutdown()
        server.stop()
    changes = [m for m in sub.get_nowait() if isinstance(m, StatusChanged)]
    seen = [c.new for c in changes]
    assert seen[0] is Status.LIVE and seen[-1] is Status.LIVE
    assert any(s in (Status.STALLED, Status.OFFLINE) for s in seen)


async def _wait_status(monitor: CameraMonitor, wanted: set[Status], within: float) -> None:
    deadline = time.monotonic() + within
    while monitor.state.status not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"still {monitor.state.status}: {monitor.state.reason}")
        await asyncio.sleep(0.1)
