"""The fault model: which faults exist, their parameters, and when they are on.

A fault applies to one camera from `start` to `end` seconds after the sim
started (`end` = None: until the sim stops). With a scenario `repeat` period
the whole schedule recurs: occurrence j runs from start + j*repeat to
end + j*repeat.

Kinds and what the simulated camera does while one is active:

- offline: the camera's clients are dropped when it starts; any request for
  its path then gets the connection closed without a reply (mode="close",
  like a refused connection) or no reply at all (mode="silent", like a camera
  that vanished from the network: the client's request times out).
  All cameras share one port, so a real TCP refusal is not possible per path.
- stall: sessions stay up and RTSP keeps answering, but RTP (and RTCP) stop.
- disconnect: clients are dropped when it starts, and every client that plays
  during the window is dropped `after` seconds into playing.
- frozen, black, covered, defocus, moved, noise, low_light, overexposure:
  image faults; the camera switches to another encoded loop of the same scene
  at its next keyframe (so up to one GOP after the scheduled start and end).
  A frozen picture is one still frame, clock included, unless clock=true:
  then the camera keeps burning a ticking clock into the frozen picture.
- packet_loss: each RTP packet to each client is lost with probability
  percent/100, in bursts of mean length `burst` (Gilbert model).
- jitter: each frame is delayed by a random 0..ms milliseconds (order kept).
- low_fps: the camera sends a loop encoded at about `fps` frames per second.
- bitrate_drop: the camera sends a loop encoded at `bitrate` (default a tenth).
- auth: Digest authentication with user/password is required during the
  window (clients are dropped at its start when drop=true).
- notfound: the path answers 404 during the window (clients dropped at start
  when drop=true).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

from .units import parse_bitrate

IMAGE_FAULTS = frozenset(
    {"frozen", "black", "covered", "defocus", "moved", "noise", "low_light", "overexposure"}
)

# kind -> {param: default}; the default's type is the parameter's type.
FAULT_PARAMS: dict[str, dict[str, Any]] = {
    "offline": {"mode": "close"},
    "stall": {},
    "disconnect": {"after": 5.0},
    "frozen": {"clock": False},
    "black": {},
    "covered": {},
    "defocus": {"strength": 8.0},
    "moved": {"dx": 0.12, "dy": 0.08},
    "noise": {"level": 0.85},
    "low_light": {"gain": 0.12, "sigma": 5.0},
    "overexposure": {"gain": 2.2},
    "packet_loss": {"percent": 5.0, "burst": 1.0},
    "jitter": {"ms": 200.0},
    "low_fps": {"fps": 2.0},
    "bitrate_drop": {"bitrate": 0},  # 0: a tenth of the camera's bitrate
    "auth": {"user": "admin", "password": "admin1234", "drop": True},
    "notfound": {"drop": True},
}

FAULT_KINDS = tuple(FAULT_PARAMS)


class FaultError(ValueError):
    """A fault definition is invalid; the message says which and why."""


@dataclass(frozen=True)
class Scheduled:
    """Something scripted on one camera from start to end (a fault, an event)."""

    camera: str
    kind: str
    start: float
    end: float | None
    params: tuple[tuple[str, Any], ...] = ()
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}  # parameters per kind

    def param(self, name: str) -> Any:
        return dict(self.params).get(name, self.DEFAULTS[self.kind].get(name))

    def params_dict(self) -> dict[str, Any]:
        return {**self.DEFAULTS[self.kind], **dict(self.params)}


@dataclass(frozen=True)
class Fault(Scheduled):
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = FAULT_PARAMS


@dataclass(frozen=True)
class Occurrence:
    """One run of a fault: the scheduled window of its index-th repetition."""

    fault: Fault
    index: int
    start: float
    end: float | None


def make_fault(
    camera: str, kind: str, start: float, end: float | None, params: dict[str, Any] | None = None
) -> Fault:
    """A validated Fault; raises FaultError with a precise message."""
    if kind not in FAULT_PARAMS:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    start = _number(start, f"{kind} on {camera}: start")
    if start < 0:
        raise FaultError(f"{kind} on {camera}: start must be >= 0, got {start}")
    if end is not None:
        end = _number(end, f"{kind} on {camera}: end")
        if end <= start:
            raise FaultError(f"{kind} on {camera}: end ({end}) must be after start ({start})")
    clean = _validate_params(kind, camera, params or {})
    return Fault(camera, kind, start, end, tuple(sorted(clean.items())))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise FaultError(f"{what} must be finite, got {value!r}")
    return float(value)


def _validate_params(kind: str, camera: str, params: dict[str, Any]) -> dict[str, Any]:
    known = FAULT_PARAMS[kind]
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise FaultError(f"{kind} on {camera}: unknown parameter {name!r} (allowed: {allowed})")
        clean[name] = _coerce(kind, camera, name, value, known[name])
    _check_ranges(kind, camera, {**known, **clean})
    return clean


def _coerce(kind: str, camera: str, name: str, value: Any, default: Any) -> Any:
    where = f"{kind} on {camera}: {name}"
    if kind == "bitrate_drop" and name == "bitrate":
        try:
            return parse_bitrate(value)
        except ValueError as exc:
            raise FaultError(f"{where}: {exc}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise FaultError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        return _number(value, where)
    if isinstance(default, str):
        if not isinstance(value, str) or not value:
            raise FaultError(f"{where} must be a non-empty string, got {value!r}")
        return value
    return value


def _check_ranges(kind: str, camera: str, p: dict[str, Any]) -> None:
    where = f"{kind} on {camera}"
    problems = {
        "offline": p.get("mode") not in ("close", "silent"),
        "packet_loss": not (0 <= p.get("percent", 0) < 100 and p.get("burst", 1) >= 1),
        "jitter": not (0 <= p.get("ms", 0) <= 10_000),
        "low_fps": not (0 < p.get("fps", 1) <= 120),
        "disconnect": not (p.get("after", 1) >= 0),
        "defocus": not (2 <= p.get("strength", 8) <= 64),
        "noise": not (0 <= p.get("level", 0.5) <= 1),
        "moved": not (abs(p.get("dx", 0)) <= 0.15 and abs(p.get("dy", 0)) <= 0.15),
    }
    if problems.get(kind):
        hints = {
            "offline": "mode must be 'close' or 'silent'",
            "packet_loss": "percent in [0, 100) and burst >= 1",
            "jitter": "ms in [0, 10000]",
            "low_fps": "fps in (0, 120]",
            "disconnect": "after >= 0 seconds",
            "defocus": "strength in [2, 64]",
            "noise": "level in [0, 1]",
            "moved": "dx and dy within +-0.15 of the frame",
        }
        raise FaultError(f"{where}: {hints[kind]}")


def active(faults: tuple[Fault, ...], t: float, repeat: float | None) -> list[Occurrence]:
    """Occurrences running at t seconds after start, in order of their start."""
    found: list[Occurrence] = []
    for fault in faults:
        occ = _occurrence_at(fault, t, repeat)
        if occ is not None:
            found.append(occ)
    found.sort(key=lambda o: o.start)
    return found


def _occurrence_at(fault: Fault, t: float, repeat: float | None) -> Occurrence | None:
    if t < fault.start:
        return None
    index = int((t - fault.start) // repeat) if repeat else 0
    start = fault.start + index * (repeat or 0.0)
    end = None if fault.end is None else fault.end + index * (repeat or 0.0)
    if end is not None and t >= end:
        return None
    return Occurrence(fault, index, start, end)


def next_boundary(faults: tuple[Fault, ...], t: float, repeat: float | None) -> float | None:
    """The first start or end of any occurrence strictly after t, or None."""
    best: float | None = None
    for fault in faults:
        for edge in (fault.start, fault.end):
            if edge is None:
                continue
            candidate = edge
            if repeat and candidate <= t:
                candidate += (math.floor((t - edge) / repeat) + 1) * repeat
            if candidate > t and (best is None or candidate < best):
                best = candidate
    return best


class LossModel:
    """Gilbert two-state loss: mean loss `percent`, mean burst length `burst` packets."""

    def __init__(self, percent: float, burst: float, rng: random.Random) -> None:
        p = percent / 100.0
        self._rng = rng
        self._leave_bad = 1.0 / max(1.0, burst)
        # Stationary loss p = enter / (enter + leave)  =>  enter = p * leave / (1 - p).
        self._enter_bad = min(1.0, p * self._leave_bad / (1.0 - p)) if p < 1 else 1.0
        self._bad = False

    def lost(self) -> bool:
        if self._bad:
            if self._rng.random() < self._leave_bad:
                self._bad = False
        elif self._rng.random() < self._enter_bad:
            self._bad = True
        return self._bad
