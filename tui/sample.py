"""Deterministic made-up fleets, alerts and frames: for tests, snapshots and the benchmark.

Real `CameraState`/`Alert` values with fixed times, so two runs render the same screen.
"""

from __future__ import annotations

import random

import numpy as np

from camwatch.alerts.model import Alert, AlertState
from camwatch.state import (
    CameraState,
    Condition,
    FrameSample,
    Severity,
    Status,
    StreamInfo,
    StreamStats,
)

SITES = ("north", "harbour", "depot", "school", "old-town")
EPOCH = 1_800_000_000.0  # a fixed "now" for snapshots


def camera(
    name: str,
    *,
    site: str = "north",
    status: Status = Status.LIVE,
    now: float = EPOCH,
    age: float = 600.0,
    fps: float = 25.0,
    bitrate: float = 2_000_000.0,
    loss: float = 0.0,
    motion: float | None = 10.0,
    sharpness: float | None = 80.0,
    conditions: tuple[Condition, ...] = (),
    reason: str = "",
    tags: tuple[str, ...] = (),
) -> CameraState:
    live = status is Status.LIVE
    extra = []
    if motion is not None:
        extra.append(Condition("motion", False, motion, 50.0, ""))
    if sharpness is not None:
        extra.append(Condition("sharpness", False, sharpness, 40.0, ""))
    return CameraState(
        name=name,
        url=f"rtsp://viewer:***@10.0.{sum(map(ord, site)) % 200}.{len(name)}:554/stream1",
        site=site,
        tags=tags,
        status=status,
        reason=reason,
        since=now - age,
        info=StreamInfo("h264", 96, 90000, "High", "4.0", 1920, 1080, "tcp") if live else None,
        stats=StreamStats(
            fps=fps if live else 0.0,
            bitrate_bps=bitrate if live else 0.0,
            loss_ratio=loss,
            jitter_ms=3.0,
            gop_s=2.0,
        ),
        conditions=(*conditions, *extra),
        updated=now,
    )


def fleet(n: int, *, now: float = EPOCH, seed: int = 7) -> list[CameraState]:
    """n cameras over five sites: mostly live, a few sick in every way the TUI shows."""
    rnd = random.Random(seed)
    states = []
    for i in range(n):
        name = f"cam-{i + 1:03d}"
        site = SITES[i % len(SITES)]
        roll = rnd.random()
        age = rnd.uniform(5, 90000)
        common = {"site": site, "now": now, "age": age, "tags": (("lobby",) if i % 7 == 0 else ())}
        fps = round(rnd.uniform(12, 25), 1)
        motion = round(rnd.uniform(0, 60))
        if roll < 0.03:
            states.append(
                camera(
                    name,
                    status=Status.OFFLINE,
                    reason="connect timeout after 5 s",
                    motion=None,
                    sharpness=None,
                    **common,
                )
            )
        elif roll < 0.05:
            loss = Condition(
                "packet_loss", True, 0.062, 0.02, "6.2% packets lost", Severity.WARNING
            )
            states.append(camera(name, loss=0.062, fps=fps, conditions=(loss,), **common))
        elif roll < 0.06:
            frozen = Condition(
                "frozen", True, 42.0, 15.0, "image unchanged 42 s", Severity.CRITICAL
            )
            states.append(camera(name, fps=fps, motion=0, conditions=(frozen,), **common))
        elif roll < 0.07:
            states.append(
                camera(
                    name,
                    status=Status.AUTH_FAILED,
                    reason="401 from rtsp://admin:secret@10.0.0.9/ch1",
                    motion=None,
                    sharpness=None,
                    **common,
                )
            )
        else:
            states.append(camera(name, fps=fps, motion=motion, **common))
    return states


def alerts_for(states: list[CameraState], now: float = EPOCH) -> list[Alert]:
    """One alert per active condition and per failed camera, like a rule engine would raise."""
    out = []
    for st in states:
        if st.status.is_failure:
            out.append(_alert(st, st.status.value, Severity.CRITICAL, st.reason, now))
        for c in st.active_conditions():
            out.append(_alert(st, c.kind, c.severity, c.reason, now, c.value, c.threshold))
    return out


def _alert(
    st: CameraState,
    rule: str,
    severity: Severity,
    reason: str,
    now: float,
    value: float | None = None,
    threshold: float | None = None,
) -> Alert:
    raised = max(st.since, now - 3600) + 30
    return Alert(
        id=f"{st.name}:{rule}:{int(st.since)}",
        camera=st.name,
        rule=rule,
        severity=severity,
        state=AlertState.FIRING,
        reason=reason,
        started=st.since,
        raised=raised,
        updated=raised,
        site=st.site,
        value=value,
        threshold=threshold,
    )


def frame(camera_name: str, at: float = EPOCH, width: int = 160, height: int = 90) -> FrameSample:
    """A synthetic scene: sky gradient, ground, a sun and a building; varies by camera."""
    seed = sum(map(ord, camera_name))
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    rgb = np.zeros((height, width, 3), np.float64)
    rgb[..., 0] = 40 + 120 * y
    rgb[..., 1] = 90 + 100 * y
    rgb[..., 2] = 200 - 60 * y
    ground = y > 0.62
    rgb[..., 0] = np.where(ground, 60 + 40 * x, rgb[..., 0])
    rgb[..., 1] = np.where(ground, 110 + 30 * x, rgb[..., 1])
    rgb[..., 2] = np.where(ground, 50, rgb[..., 2])
    cx = 0.2 + (seed % 60) / 100
    sun = (x - cx) ** 2 + ((y - 0.25) * height / width) ** 2 < 0.004
    rgb[sun] = (255, 220, 90)
    left = 0.55 + (seed % 17) / 100
    building = (x > left) & (x < left + 0.18) & (y > 0.3) & (y < 0.7)
    rgb[building] = (150, 150, 160)
    gray = rgb.mean(axis=-1).astype(np.uint8)
    return FrameSample(camera_name, at, 0.0, gray, rgb.clip(0, 255).astype(np.uint8))


def populate(
    bus: object, control: object, states: list[CameraState], *, now: float = EPOCH
) -> None:
    """Publish states on the bus, give every camera a frame and raise the matching alerts."""
    for st in states:
        bus.publish(st)  # type: ignore[attr-defined]
        control.set_thumbnail(frame(st.name, now))  # type: ignore[attr-defined]
    for alert in alerts_for(states, now):
        control.raise_alert(alert)  # type: ignore[attr-defined]


def make_app(n: int = 40, *, theme_dir: object = None, **opts: object) -> tuple:
    """(app, bus, control, states): a CamwatchApp on a LocalBus with a sample fleet and a
    frozen clock. The refresh timer is slow so tests drive `app.drain()` themselves."""
    from pathlib import Path

    from camwatch.bus import LocalBus
    from camwatch.control import MemoryControl

    from .app import CamwatchApp

    bus = LocalBus()
    control = MemoryControl(bus, clock=lambda: EPOCH)
    states = fleet(n)
    populate(bus, control, states)
    options: dict = {
        "clock": lambda: EPOCH,
        "colors": "truecolor",
        "user": "tester",
        "refresh_interval": 3600.0,
        "thumb_interval": 3600.0,
        "theme_dir": Path(str(theme_dir)) if theme_dir else Path("/nonexistent/camwatch/themes"),
    }
    options.update(opts)
    app = CamwatchApp(bus, control, **options)
    return app, bus, control, states
