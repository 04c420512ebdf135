"""Per camera, per minute health rollup of a stream of CameraStates.

States arrive whenever the core publishes them (about once a second per
camera). Time between two states of a camera belongs to the earlier state's
status; that time is split at minute boundaries, so `live_s / observed_s` of a
minute is exact whatever the publishing rate. Averages (fps, bitrate, loss,
jitter, motion, sharpness) are over the live samples of the minute only: an
offline camera has no fps worth averaging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..state import CameraState, Status

MAX_GAP_S = 120.0  # a camera silent longer than this was not observed, not "still live"


@dataclass(frozen=True, slots=True)
class HealthMinute:
    camera: str
    minute: int  # epoch seconds of the minute's start
    observed_s: float
    live_s: float
    status: str  # last status seen in the minute
    samples: int  # live samples behind the averages
    fps: float | None = None
    bitrate_bps: float | None = None
    loss_ratio: float | None = None
    jitter_ms: float | None = None
    motion: float | None = None
    sharpness: float | None = None
    reconnects: int = 0

    @property
    def live_fraction(self) -> float | None:
        return self.live_s / self.observed_s if self.observed_s > 0 else None


_METRICS = ("fps", "bitrate_bps", "loss_ratio", "jitter_ms", "motion", "sharpness")


def _metrics_of(state: CameraState) -> dict[str, float | None]:
    st = state.stats
    motion = getattr(state, "motion_level", None)
    sharpness = getattr(state, "sharpness", None)
    for cond in state.conditions:  # analyzers may report these as conditions instead
        if cond.kind == "motion" and motion is None:
            motion = cond.value
        elif cond.kind == "defocus" and sharpness is None:
            sharpness = cond.value
    return {
        "fps": st.fps,
        "bitrate_bps": st.bitrate_bps,
        "loss_ratio": st.loss_ratio,
        "jitter_ms": st.jitter_ms,
        "motion": motion,
        "sharpness": sharpness,
    }


@dataclass
class _Minute:
    start: int
    observed_s: float = 0.0
    live_s: float = 0.0
    status: str = ""
    samples: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    reconnects_at_start: int | None = None
    reconnects: int = 0


@dataclass
class _Cam:
    last_t: float  # time up to which the camera's time has been credited
    seen: float  # time of its last state
    status: Status
    minute: _Minute


class MinuteRollup:
    """Accumulates states; hands back each minute once it is complete."""

    def __init__(self) -> None:
        self._cams: dict[str, _Cam] = {}

    def add(self, state: CameraState, now: float) -> list[HealthMinute]:
        cam = self._cams.get(state.name)
        if cam is None:
            cam = self._cams[state.name] = _Cam(now, now, state.status, _Minute(_floor(now)))
        done = self._advance(state.name, cam, now)
        cam.seen = max(cam.seen, now)
        cam.status = state.status
        m = cam.minute
        m.status = state.status.value
        if m.reconnects_at_start is None:
            m.reconnects_at_start = state.reconnects
        m.reconnects = max(0, state.reconnects - m.reconnects_at_start)
        if state.status is Status.LIVE:
            m.samples += 1
            for key, value in _metrics_of(state).items():
                if value is not None:
                    m.sums[key] = m.sums.get(key, 0.0) + float(value)
                    m.counts[key] = m.counts.get(key, 0) + 1
        return done

    def tick(self, now: float) -> list[HealthMinute]:
        """Close the minutes that ended, even for cameras that sent nothing since."""
        done: list[HealthMinute] = []
        for name, cam in self._cams.items():
            done += self._advance(name, cam, now)
        return done

    def flush(self, now: float) -> list[HealthMinute]:
        """Everything observed so far, including the current partial minutes (at stop)."""
        done = self.tick(now)
        for name, cam in self._cams.items():
            if cam.minute.observed_s > 0 or cam.minute.samples:
                done.append(_finish(name, cam.minute))
            cam.minute = _Minute(_floor(now))
        return done

    def forget(self, camera: str) -> None:
        self._cams.pop(camera, None)

    def _advance(self, name: str, cam: _Cam, now: float) -> list[HealthMinute]:
        done: list[HealthMinute] = []
        horizon = min(now, cam.seen + MAX_GAP_S)  # beyond this the camera was not observed
        t = cam.last_t
        while True:
            end = cam.minute.start + 60
            upto = min(horizon, end)
            if upto > t:
                _credit(cam.minute, cam.status, upto - max(t, cam.minute.start))
            if now < end:
                break
            if cam.minute.observed_s > 0 or cam.minute.samples:
                done.append(_finish(name, cam.minute))
            status = cam.minute.status or cam.status.value
            cam.minute = _Minute(end if horizon > end else _floor(now), status=status)
        cam.last_t = max(now, cam.last_t)
        return done


def _credit(m: _Minute, status: Status, seconds: float) -> None:
    if seconds <= 0:
        return
    m.observed_s += seconds
    if status is Status.LIVE:
        m.live_s += seconds


def _finish(name: str, m: _Minute) -> HealthMinute:
    avg = {k: m.sums[k] / m.counts[k] for k in m.sums if m.counts.get(k)}
    return HealthMinute(
        camera=name,
        minute=m.start,
        observed_s=round(min(m.observed_s, 60.0), 3),
        live_s=round(min(m.live_s, 60.0), 3),
        status=m.status,
        samples=m.samples,
        reconnects=m.reconnects,
        **{k: avg.get(k) for k in _METRICS},
    )


def _floor(t: float) -> int:
    return int(t // 60) * 60
