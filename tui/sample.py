"""Deterministic made-up fleets, alerts and frames: for tests, snapshots and the benchmark.

Real `CameraState`/`Alert` values with fixed times, so two runs render the same screen.
"""

from __future__ import annotations

import random

import numpy as np

from camwatch.alerts.model import Alert, AlertState
from camwatch.analysis.analyzer import AnalysisResult
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


LOSS_ALERT = 0.02  # the rule engine's default packet_loss threshold
WARN, CRIT = Severity.WARNING, Severity.CRITICAL
HEALTHY: dict[str, tuple[float | None, float]] = {  # kind: (value, threshold), as the analyzer
    "black": (110.0, 16.0),
    "low_light": (110.0, 30.0),
    "overexposed": (1.2, 30.0),
    "low_contrast": (150.0, 24.0),
    "color_cast": (6.0, 40.0),
    "covered": (85.0, 10.0),
    "noise": (1.6, 5.0),
    "defocus": (96.0, 50.0),
    "frozen": (20.0, 85.0),
    "moved": (92.0, 60.0),
}
_UNITS = {"overexposed": "% clipped", "covered": "% textured", "frozen": "% still", "moved": "%"}


def image_conditions(
    active: dict[str, tuple[float, str, Severity]] | None = None,
    sharpness: float | None = 96.0,
) -> tuple[Condition, ...]:
    """One condition per image check kind, like the analyzer reports them: inactive with
    its value and threshold, except the `active` ones (kind: (value, reason, severity))."""
    active = active or {}
    out = []
    for kind, (value, threshold) in HEALTHY.items():
        if kind == "defocus":
            value = sharpness
        if kind in active:
            v, reason, severity = active[kind]
            out.append(Condition(kind, True, v, threshold, reason, severity))
            continue
        unit = _UNITS.get(kind, "")
        reason = "baseline not learned yet" if value is None else f"{value:g}{unit}"
        out.append(Condition(kind, False, value, threshold, reason, Severity.OK))
    return tuple(out)


def analysis(
    motion: float, sharpness: float | None, conditions: tuple[Condition, ...]
) -> AnalysisResult:
    """An analyzer result with these figures (the fields the TUI reads are real)."""
    grid = np.zeros((9, 16), bool)
    grid.flat[: round(motion / 100 * grid.size)] = True
    return AnalysisResult(
        conditions=conditions,
        motion_level=motion,
        motion_grid=grid,
        sharpness=0.0 if sharpness is None else sharpness * 3.1,
        sharpness_pct=sharpness,
        noise_sigma=1.6,
        luma_mean=110.0,
        contrast=150.0,
        clipped=1.2,
        shift=(0.0, 0.0) if sharpness is not None else None,
        baseline_ready=sharpness is not None,
    )


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
    sharpness: float | None = 96.0,
    conditions: dict[str, tuple[float, str, Severity]] | tuple[Condition, ...] | None = None,
    reason: str = "",
    tags: tuple[str, ...] = (),
) -> CameraState:
    """A camera state as the core publishes it: figures in stats, motion_level, and the
    analyzer's result and conditions once it is live (motion None: never analysed).

    conditions: the image checks that fire (kind: (value, reason, severity)), or a
    tuple of Condition to use exactly as given."""
    live = status is Status.LIVE
    analysed = live and motion is not None
    if isinstance(conditions, tuple):
        checks = conditions
    else:
        checks = image_conditions(conditions, sharpness) if analysed else ()
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
            frame_jitter_ms=4.0,
            gop_s=2.0,
        ),
        conditions=checks,
        motion_level=motion if analysed else None,
        analysis=analysis(motion, sharpness, checks) if analysed and motion is not None else None,
        last_frame_at=now - 1.0 if analysed else None,
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
                    **common,
                )
            )
        elif roll < 0.038:
            blur = {"defocus": (31.0, "sharpness 31% < 50%: defocused or dirty lens", WARN)}
            states.append(
                camera(name, fps=fps, motion=motion, sharpness=31.0, conditions=blur, **common)
            )
        elif roll < 0.05:
            states.append(camera(name, loss=0.062, fps=fps, motion=motion, **common))
        elif roll < 0.06:
            dark = {"low_light": (22.0, "mean luma 22 < 30", WARN)}
            states.append(camera(name, fps=fps, motion=motion, conditions=dark, **common))
        elif roll < 0.07:
            states.append(
                camera(
                    name,
                    status=Status.AUTH_FAILED,
                    reason="401 from rtsp://admin:secret@10.0.0.9/ch1",
                    motion=None,
                    **common,
                )
            )
        elif roll < 0.082:
            still = {"frozen": (100.0, "image unchanged for 42 s (100% still)", CRIT)}
            states.append(camera(name, fps=fps, motion=0, conditions=still, **common))
        elif roll < 0.09:
            cover = {"covered": (3.0, "3% of the image textured < 10%: lens covered", CRIT)}
            states.append(camera(name, fps=fps, motion=0, conditions=cover, **common))
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
        if st.stats.loss_ratio > LOSS_ALERT:
            reason = f"{st.stats.loss_ratio:.1%} of packets lost > {LOSS_ALERT:.0%}"
            loss = st.stats.loss_ratio
            out.append(_alert(st, "packet_loss", Severity.WARNING, reason, now, loss, LOSS_ALERT))
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
