"""`camwatch probe`: one camera, now, and a verdict an installer reads at a glance."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from .bus import LocalBus
from .camera import CameraMonitor, CameraTarget, MonitorSettings
from .decode import DecodePool
from .pipeline import FrameHook
from .state import CameraState, FrameSample, Severity, Status

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3

# Figures past which a stream is "degraded" for an installer (warnings, not failures).
LOSS_WARN = 0.01
JITTER_WARN_MS = 30.0  # frame jitter, as the jitter rule judges it
GOP_WARN_S = 5.0
FIRST_FRAME_WARN_MS = 4000.0
FPS_WARN = 5.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    state: CameraState
    seconds: float
    problems: tuple[tuple[Severity, str], ...]
    sample: FrameSample | None = None  # the last decoded frame (privacy-masked by the hook)

    @property
    def exit_code(self) -> int:
        if any(sev is Severity.CRITICAL for sev, _ in self.problems):
            return EXIT_CRITICAL
        if self.problems:
            return EXIT_WARNING
        return EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "OK", EXIT_WARNING: "DEGRADED", EXIT_CRITICAL: "FAILED"}[self.exit_code]

    def to_json(self) -> dict[str, Any]:
        s, st, info = self.state, self.state.stats, self.state.info
        return {
            "url": s.url,
            "name": s.name,
            "state": s.status.value,
            "reason": s.reason,
            "verdict": self.verdict.lower(),
            "transport": info.transport if info else None,
            "codec": info.codec if info else None,
            "profile": info.profile if info else None,
            "level": info.level if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "fps": _round(st.fps, 2),
            "bitrate_bps": _round(st.bitrate_bps, 0),
            "gop_s": _round(st.gop_s, 3),
            "packets_received": st.packets_received,
            "packets_lost": st.packets_lost,
            "loss_ratio": _round(st.loss_ratio, 5),
            "jitter_ms": _round(st.jitter_ms, 3),
            "frame_jitter_ms": _round(st.frame_jitter_ms, 3),
            "first_frame_ms": _round(st.first_frame_ms, 1),
            "clock_drift_ppm": _round(st.clock_drift_ppm, 1),
            "keyframes_decoded": s.decode.keyframes_decoded,
            "decode_errors": s.decode.decode_errors,
            "decode_ms": _round(s.decode.last_decode_ms, 2),
            "conditions": [
                {
                    "kind": c.kind,
                    "active": c.active,
                    "value": c.value,
                    "threshold": c.threshold,
                    "reason": c.reason,
                    "severity": c.severity.value,
                }
                for c in s.conditions
            ],
            "problems": [{"severity": sev.value, "text": text} for sev, text in self.problems],
            "seconds": round(self.seconds, 2),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


async def probe(
    target: CameraTarget,
    seconds: float = 5.0,
    *,
    connect_timeout: float = 5.0,
    stall_timeout: float = 5.0,
    frame_hook: FrameHook | None = None,
) -> ProbeResult:
    """Connect, collect for `seconds`, decode at least one keyframe if the
    stream has one within `seconds` + one extra GOP allowance, then report."""
    settings = MonitorSettings(
        stall_timeout=min(stall_timeout, seconds),
        connect_timeout=connect_timeout,
        reconnect_after_stall=1e9,
        publish_interval=0.5,
        sample_interval=0.5,
        retry=False,
        read_every=0.0,  # one camera: immediate reads cost nothing worth saving
    )
    bus = LocalBus()
    pool = DecodePool(workers=1, max_pending=2)
    monitor = CameraMonitor(target, bus, pool, settings, frame_hook=frame_hook)
    started = time.monotonic()
    task = asyncio.create_task(monitor.run(), name=f"probe:{target.name}")
    try:
        await _collect(monitor, task, started, seconds)
        monitor.refresh()
    finally:
        monitor.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pool.shutdown()
    state = monitor.state
    if state.status in (Status.LIVE, Status.CONNECTING) and not state.decode.keyframes_decoded:
        state = dataclasses.replace(state, reason="no keyframe decoded: " + _why_no_frame(state))
    elapsed = time.monotonic() - started
    return ProbeResult(state, elapsed, tuple(judge(state)), monitor.latest_sample)


async def _collect(
    monitor: CameraMonitor, task: asyncio.Task, started: float, seconds: float
) -> None:
    extra = 5.0  # wait this much longer for a first keyframe (long GOP cameras)
    while not task.done():
        elapsed = time.monotonic() - started
        st = monitor.state
        decoded = st.decode.keyframes_decoded > 0
        if elapsed >= seconds and (decoded or st.status is not Status.LIVE):
            return
        if elapsed >= seconds + extra:
            return
        await asyncio.sleep(0.1)


def _why_no_frame(state: CameraState) -> str:
    if state.stats.packets_received == 0:
        return "no video packets arrived"
    if state.decode.decode_errors:
        return f"{state.decode.decode_errors} keyframe(s) failed to decode"
    if state.stats.keyframes == 0:
        return "no keyframe arrived in the window (GOP too long?)"
    return "keyframe not decoded in time"


def judge(state: CameraState) -> list[tuple[Severity, str]]:
    """The problems an installer must fix, most serious first."""
    crit, warn = Severity.CRITICAL, Severity.WARNING
    if state.status.is_failure:
        return [(crit, f"{state.status.value}: {state.reason}")]
    out: list[tuple[Severity, str]] = []
    st = state.stats
    if state.decode.keyframes_decoded == 0:
        out.append((crit, state.reason or "no decodable video"))
    if st.loss_ratio > LOSS_WARN:
        out.append((warn, f"packet loss {st.loss_ratio:.1%} (> {LOSS_WARN:.0%})"))
    if st.frame_jitter_ms > JITTER_WARN_MS:
        fj = st.frame_jitter_ms
        out.append((warn, f"frame jitter {fj:.0f} ms (> {JITTER_WARN_MS:.0f} ms)"))
    if st.fps and st.fps < FPS_WARN:
        out.append((warn, f"frame rate {st.fps:.1f} fps (< {FPS_WARN:.0f})"))
    if st.gop_s is not None and st.gop_s > GOP_WARN_S:
        out.append((warn, f"keyframe interval {st.gop_s:.1f} s (> {GOP_WARN_S:.0f} s)"))
    if st.first_frame_ms is not None and st.first_frame_ms > FIRST_FRAME_WARN_MS:
        out.append((warn, f"first frame after {st.first_frame_ms / 1000:.1f} s"))
    if state.decode.decode_errors:
        out.append((warn, f"{state.decode.decode_errors} keyframe(s) failed to decode"))
    for cond in state.conditions:
        if cond.active:
            out.append((cond.severity, f"image: {cond.reason or cond.kind}"))
    out.sort(key=lambda p: p[0] is not crit)
    return out
