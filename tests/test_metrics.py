"""Prometheus endpoint: a real HTTP GET on loopback, parsed with prometheus-client's parser."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from camwatch.alerts.metrics import (
    CamwatchCollector,
    ListenError,
    MetricsServer,
    parse_listen,
)
from camwatch.alerts.rules import RuleEngine
from camwatch.bus import LocalBus
from camwatch.state import CameraState, Condition, Status, StreamStats


def scrape(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def lab(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kw.items()))


def test_metrics_endpoint_serves_camera_and_alert_metrics() -> None:
    bus = LocalBus()
    bus.publish(
        CameraState(
            "gate",
            "rtsp://gate/",
            site="depot",
            status=Status.LIVE,
            stats=StreamStats(
                fps=24.5, bitrate_bps=2e6, loss_ratio=0.01, jitter_ms=12.0, frame_jitter_ms=33.0
            ),
            reconnects=3,
            motion_level=42.0,  # percent
        )
    )
    bus.publish(
        CameraState(
            "yard",
            "rtsp://yard/",
            site="north",
            status=Status.OFFLINE,
            stats=StreamStats(fps=7.0),
            conditions=(Condition("motion", False, 5.0),),
        )
    )
    engine = RuleEngine()
    for t in (0, 10):
        engine.evaluate(bus.states()["yard"], t)
    server = MetricsServer(CamwatchCollector(bus.states, engine.alerts), "127.0.0.1:0")
    host, port = server.start()
    try:
        assert host == "127.0.0.1" and port > 0
        m = scrape(server)
        gate, yard = lab(camera="gate", site="depot"), lab(camera="yard", site="north")
        assert m[("camwatch_camera_up", gate)] == 1 and m[("camwatch_camera_up", yard)] == 0
        assert m[("camwatch_camera_fps", gate)] == 24.5
        assert m[("camwatch_camera_fps", yard)] == 0  # an offline camera delivers nothing
        assert m[("camwatch_camera_bitrate_bps", gate)] == 2e6
        assert m[("camwatch_camera_packet_loss_ratio", gate)] == 0.01
        assert m[("camwatch_camera_jitter_seconds", gate)] == pytest.approx(0.012)
        assert m[("camwatch_camera_frame_jitter_seconds", gate)] == pytest.approx(0.033)
        assert m[("camwatch_camera_motion_level", gate)] == 0.42
        assert m[("camwatch_camera_motion_level", yard)] == 0.05  # from the condition
        assert m[("camwatch_camera_reconnects_total", gate)] == 3
        assert (
            m[("camwatch_camera_status", lab(camera="yard", site="north", status="offline"))] == 1
        )
        assert m[("camwatch_alerts_firing", lab(severity="critical"))] == 1
        assert m[("camwatch_alerts_firing", lab(severity="warning"))] == 0
        # Scrapes read live state: the camera comes back.
        bus.publish(CameraState("yard", "rtsp://yard/", site="north", status=Status.LIVE))
        assert scrape(server)[("camwatch_camera_up", yard)] == 1
    finally:
        server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url, timeout=1)  # stopped means the port is closed


def test_listen_address_parsing_defaults_to_loopback() -> None:
    assert parse_listen("9108") == ("127.0.0.1", 9108)
    assert parse_listen(":9108") == ("127.0.0.1", 9108)
    assert parse_listen("0.0.0.0:9200") == ("0.0.0.0", 9200)
    assert parse_listen("[::1]:9108") == ("::1", 9108)
    with pytest.raises(ListenError, match="HOST:PORT"):
        parse_listen("localhost:http")
    with pytest.raises(ListenError, match="range"):
        parse_listen("127.0.0.1:70000")


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = MetricsServer(CamwatchCollector(dict), f"127.0.0.1:{port}")
        with pytest.raises(ListenError, match=f"127.0.0.1:{port}"):
            server.start()
