"""The fleet's own gauges on the Prometheus endpoint: a real HTTP GET on loopback,
parsed with prometheus-client's parser."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import overloaded_fleet
from test_metrics import scrape

from camwatch.alerts.metrics import CamwatchCollector, MetricsServer
from camwatch.bus import LocalBus
from camwatch.fleethealth import FleetHealth
from camwatch.state import CameraState, Status

HEALTH = overloaded_fleet(
    samples_per_s=33.9, superseded_per_s=1.25, decode_cpu_pct=98.5, decode_wait_ms=12.0,
    loop_lag_p50_ms=1.5, loop_lag_p99_ms=41.0,
)  # fmt: skip

FLEET_GAUGES = {
    "camwatch_fleet_overloaded",
    "camwatch_fleet_sample_interval_seconds",
    "camwatch_fleet_nominal_interval_seconds",
    "camwatch_fleet_samples_per_second",
    "camwatch_fleet_decode_cpu_cores",
    "camwatch_fleet_loop_lag_p99_seconds",
    "camwatch_fleet_live_cameras",
}


def fleet_samples(server: MetricsServer) -> dict[str, float]:
    return {
        name: v for (name, labels), v in scrape(server).items() if name.startswith("camwatch_fleet")
    }


def test_fleet_gauges_appear_once_a_fleet_health_is_known() -> None:
    bus = LocalBus()
    bus.publish(CameraState("gate", "rtsp://gate/", site="depot", status=Status.LIVE))
    latest: dict[str, FleetHealth | None] = {"v": None}
    server = MetricsServer(CamwatchCollector(bus.states, fleet=lambda: latest["v"]), "127.0.0.1:0")
    server.start()
    try:
        before = scrape(server)
        assert ("camwatch_camera_up", (("camera", "gate"), ("site", "depot"))) in before
        assert not [k for k in before if k[0].startswith("camwatch_fleet")]
        latest["v"] = HEALTH
        m = fleet_samples(server)
        assert set(m) == FLEET_GAUGES
        assert m["camwatch_fleet_overloaded"] == 1
        assert m["camwatch_fleet_sample_interval_seconds"] == 6.2
        assert m["camwatch_fleet_nominal_interval_seconds"] == 4.0
        assert m["camwatch_fleet_samples_per_second"] == 33.9
        assert m["camwatch_fleet_decode_cpu_cores"] == pytest.approx(0.985)
        assert m["camwatch_fleet_loop_lag_p99_seconds"] == pytest.approx(0.041)
        assert m["camwatch_fleet_live_cameras"] == 210
        # Recovered, and two figures not known (no live camera measured, no lag probe
        # yet): those are left out, not sent as 0.
        latest["v"] = replace(
            HEALTH, overloaded=False, reason="", sample_interval_s=None, loop_lag_p99_ms=None
        )
        m = fleet_samples(server)
        assert set(m) == FLEET_GAUGES - {
            "camwatch_fleet_sample_interval_seconds",
            "camwatch_fleet_loop_lag_p99_seconds",
        }
        assert m["camwatch_fleet_overloaded"] == 0
    finally:
        server.stop()


def test_a_collector_without_a_fleet_source_has_no_fleet_gauges() -> None:
    server = MetricsServer(CamwatchCollector(dict), "127.0.0.1:0")
    server.start()
    try:
        names = {name for name, _ in scrape(server)}
        assert "camwatch_alerts_firing" in names
        assert not {n for n in names if n.startswith("camwatch_fleet")}
    finally:
        server.stop()
