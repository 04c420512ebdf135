"""Prometheus exposition of the fleet's latest states and firing alerts.

A custom collector reads, at scrape time, the bus's latest CameraState per
camera and the rule engine's open alerts: nothing is updated per packet, and
a scrape costs one pass over the cameras. The HTTP endpoint is
prometheus-client's own threaded server, bound to loopback unless told
otherwise. The collector runs in that server's thread, so it only calls
functions that return snapshots (LocalBus.states() copies its dict in one C
call; RuleEngine.alerts() returns an immutable tuple).

Metrics (labels camera, site unless noted):
    camwatch_camera_up                    1 when live, else 0
    camwatch_camera_fps                   frames per second
    camwatch_camera_bitrate_bps           bits per second
    camwatch_camera_packet_loss_ratio     0..1
    camwatch_camera_jitter_seconds        RFC 3550 interarrival jitter (per packet)
    camwatch_camera_frame_jitter_seconds  interarrival jitter of frames (the jitter rule's)
    camwatch_camera_motion_level          0..1 (analysis' percent / 100; absent until known)
    camwatch_camera_reconnects_total      reconnections since start
    camwatch_camera_status{status}        1 for the current status (state set)
    camwatch_alerts_firing{severity}      open alerts (firing or acknowledged)

The fleet's own figures (no labels; only once the fleet has published a
FleetHealth, and a figure not known yet is left out rather than sent as 0):
    camwatch_fleet_overloaded                 1 while cameras are sampled less often than scheduled
    camwatch_fleet_sample_interval_seconds    median time between two samples of a live camera
    camwatch_fleet_nominal_interval_seconds   what the schedule asks
    camwatch_fleet_samples_per_second         keyframes decoded and analysed
    camwatch_fleet_decode_cpu_cores           decoding and analysis, in cores (1 = one core)
    camwatch_fleet_loop_lag_p99_seconds       event-loop lag, worst process when sharded
    camwatch_fleet_live_cameras               cameras being sampled
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from ..state import CameraState, Severity, Status
from .model import Alert

if TYPE_CHECKING:  # at run time the collector only reads attributes
    from ..fleethealth import FleetHealth

DEFAULT_LISTEN = "127.0.0.1:9108"
_LABELS = ["camera", "site"]


class ListenError(ValueError):
    pass


def parse_listen(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """'HOST:PORT', ':PORT', 'PORT' or '[v6]:PORT' -> (host, port); loopback by default."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ListenError(f"metrics listen address {text!r}: expected HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ListenError(f"metrics listen address {text!r}: port out of range")
    return host, port


def _motion(state: CameraState) -> float | None:
    """Motion as a 0..1 ratio (Prometheus convention); analysis reports percent."""
    motion = getattr(state, "motion_level", None)
    if motion is None:
        for cond in state.conditions:
            if cond.kind == "motion" and cond.value is not None:
                motion = cond.value
                break
    return None if motion is None else float(motion) / 100.0


class CamwatchCollector(Collector):
    """Builds the metrics from snapshots at scrape time."""

    def __init__(
        self,
        states: Callable[[], Mapping[str, CameraState]],
        alerts: Callable[[], Iterable[Alert]] = tuple,
        fleet: Callable[[], FleetHealth | None] | None = None,
    ) -> None:
        """fleet: the latest FleetHealth (e.g. Core.fleet_health); called in the
        scrape thread, so it must only read a reference (FleetHealth is frozen)."""
        self._states = states
        self._alerts = alerts
        self._fleet = fleet

    def collect(self) -> Iterator[Metric]:
        states = sorted(self._states().values(), key=lambda s: s.name)
        gauges = {
            "up": GaugeMetricFamily(
                "camwatch_camera_up", "1 when the camera's stream is live", labels=_LABELS
            ),
            "fps": GaugeMetricFamily(
                "camwatch_camera_fps", "Frames per second received", labels=_LABELS
            ),
            "bitrate": GaugeMetricFamily(
                "camwatch_camera_bitrate_bps", "Stream bitrate in bits per second", labels=_LABELS
            ),
            "loss": GaugeMetricFamily(
                "camwatch_camera_packet_loss_ratio", "RTP packet loss ratio", labels=_LABELS
            ),
            "jitter": GaugeMetricFamily(
                "camwatch_camera_jitter_seconds", "RTP interarrival jitter", labels=_LABELS
            ),
            "frame_jitter": GaugeMetricFamily(
                "camwatch_camera_frame_jitter_seconds",
                "Interarrival jitter of frames",
                labels=_LABELS,
            ),
            "motion": GaugeMetricFamily(
                "camwatch_camera_motion_level", "Motion level 0..1", labels=_LABELS
            ),
        }
        reconnects = CounterMetricFamily(
            "camwatch_camera_reconnects", "Reconnections since start", labels=_LABELS
        )
        status = GaugeMetricFamily(
            "camwatch_camera_status",
            "Current status (1 for the current one)",
            labels=[*_LABELS, "status"],
        )
        for st in states:
            labels = [st.name, st.site]
            live = st.status is Status.LIVE
            gauges["up"].add_metric(labels, 1.0 if live else 0.0)
            gauges["fps"].add_metric(labels, st.stats.fps if live else 0.0)
            gauges["bitrate"].add_metric(labels, st.stats.bitrate_bps if live else 0.0)
            gauges["loss"].add_metric(labels, st.stats.loss_ratio)
            gauges["jitter"].add_metric(labels, st.stats.jitter_ms / 1000.0)
            gauges["frame_jitter"].add_metric(labels, st.stats.frame_jitter_ms / 1000.0)
            motion = _motion(st)
            if motion is not None:
                gauges["motion"].add_metric(labels, float(motion))
            reconnects.add_metric(labels, float(st.reconnects))
            for s in Status:
                status.add_metric([*labels, s.value], 1.0 if st.status is s else 0.0)
        yield from gauges.values()
        yield reconnects
        yield status
        yield self._firing()
        health = self._fleet() if self._fleet is not None else None
        if health is not None:
            yield from _fleet_gauges(health)

    def _firing(self) -> Metric:
        counts = {Severity.WARNING: 0, Severity.CRITICAL: 0}
        for alert in self._alerts():
            if alert.severity in counts:
                counts[alert.severity] += 1
        firing = GaugeMetricFamily(
            "camwatch_alerts_firing", "Open alerts (firing or acknowledged)", labels=["severity"]
        )
        for severity, n in counts.items():
            firing.add_metric([severity.value], float(n))
        return firing


def _fleet_gauges(health: FleetHealth) -> Iterator[Metric]:
    """FleetHealth in Prometheus base units: seconds, and cores instead of percent."""
    figures: list[tuple[str, str, float | None]] = [
        ("overloaded", "1 while cameras are sampled less often than scheduled",
         float(health.overloaded)),
        ("sample_interval_seconds", "Median time between two samples of a live camera",
         health.sample_interval_s),
        ("nominal_interval_seconds", "Median time between two samples the schedule asks",
         health.nominal_interval_s),
        ("samples_per_second", "Keyframes decoded and analysed per second",
         health.samples_per_s),
        ("decode_cpu_cores", "Cores used by decoding and analysis (1: one core)",
         health.decode_cpu_pct / 100.0),
        ("loop_lag_p99_seconds", "99th percentile event-loop lag (worst process)",
         None if health.loop_lag_p99_ms is None else health.loop_lag_p99_ms / 1000),
        ("live_cameras", "Cameras being sampled", float(health.live)),
    ]  # fmt: skip
    for name, text, value in figures:
        if value is not None:
            yield GaugeMetricFamily(f"camwatch_fleet_{name}", text, value=value)


class MetricsServer:
    """The /metrics endpoint on its own registry (never the process-global one)."""

    def __init__(self, collector: Collector, listen: str = DEFAULT_LISTEN) -> None:
        self.host, self.port = parse_listen(listen)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        """Bind and serve; returns the bound (host, port) (port 0 picks a free one)."""
        try:
            server, thread = start_http_server(self.port, addr=self.host, registry=self.registry)
        except OSError as exc:
            raise ListenError(
                f"cannot serve metrics on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._server, self._thread = server, thread
        self.port = server.server_address[1]
        return self.host, self.port

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"
