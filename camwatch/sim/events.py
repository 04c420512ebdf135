"""Scene events: things a healthy camera sees that are not faults.

Events change the light a camera's picture is exposed with; they never appear
in the ground truth, because a monitor must not report them. Each runs on one
camera from `start` to `end` seconds after the sim started (`end` = None: until
it stops) and recurs with the scenario's `repeat` period like faults do.

- light: the scene's exposure goes from normal to x `gain` + `offset` (a cloud,
  a lamp switched on, an auto-exposure step) and back at `end`. With `ramp`
  seconds the change is gradual: `steps` equal steps spread over the ramp
  (default one per 8 s, at least 2), each switched in at the camera's next
  keyframe like an image fault. Overlapping light events multiply their gains
  and add their offsets.
- ir: the camera switches to IR night mode (gray, near-infrared tones, an
  illuminator hot spot, more noise) during the window, or with on=false out of
  it (a night camera that switches to colour at dawn).

Every step is a loop encoded once (and cached), so a ramp of n steps costs n
encodes: keep ramps to a few steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .faults import FaultError, Scheduled, _number

# kind -> {param: default}
EVENT_PARAMS: dict[str, dict[str, Any]] = {
    "light": {"gain": 1.0, "offset": 0.0, "ramp": 0.0, "steps": 0.0},
    "ir": {"on": True},
}
EVENT_KINDS = tuple(EVENT_PARAMS)
_RAMP_STEP_S = 8.0
_MAX_STEPS = 32


@dataclass(frozen=True)
class Event(Scheduled):
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = EVENT_PARAMS

    @property
    def steps(self) -> int:
        """How many steps the light takes to change (1 when sudden)."""
        ramp = float(self.param("ramp"))
        if ramp <= 0:
            return 1
        wanted = int(self.param("steps")) or max(2, round(ramp / _RAMP_STEP_S))
        return max(1, min(_MAX_STEPS, wanted))


@dataclass(frozen=True)
class Light:
    """How a camera's picture is exposed at one moment."""

    gain: float = 1.0
    offset: float = 0.0
    ir: bool = False


def make_event(
    camera: str, kind: str, start: float, end: float | None, params: dict[str, Any] | None = None
) -> Event:
    """A validated Event; raises FaultError (a ValueError) with a precise message."""
    if kind not in EVENT_PARAMS:
        raise FaultError(f"unknown event {kind!r}; known: {', '.join(EVENT_KINDS)}")
    where = f"{kind} event on {camera}"
    start = _number(start, f"{where}: start")
    if start < 0:
        raise FaultError(f"{where}: start must be >= 0, got {start}")
    if end is not None:
        end = _number(end, f"{where}: end")
        if end <= start:
            raise FaultError(f"{where}: end ({end}) must be after start ({start})")
    known = EVENT_PARAMS[kind]
    clean: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if name not in known:
            raise FaultError(f"{where}: unknown parameter {name!r} (allowed: {', '.join(known)})")
        if isinstance(known[name], bool):
            if not isinstance(value, bool):
                raise FaultError(f"{where}: {name} must be true or false, got {value!r}")
            clean[name] = value
        else:
            clean[name] = _number(value, f"{where}: {name}")
    _check(where, {**known, **clean})
    return Event(camera, kind, start, end, tuple(sorted(clean.items())))


def _check(where: str, p: dict[str, Any]) -> None:
    if "gain" in p and not 0.05 <= p["gain"] <= 8.0:
        raise FaultError(f"{where}: gain must be in [0.05, 8], got {p['gain']}")
    if "offset" in p and not -128 <= p["offset"] <= 128:
        raise FaultError(f"{where}: offset must be in [-128, 128], got {p['offset']}")
    if "ramp" in p and not 0 <= p["ramp"] <= 3600:
        raise FaultError(f"{where}: ramp must be in [0, 3600] seconds, got {p['ramp']}")
    if "steps" in p and not (0 <= p["steps"] <= _MAX_STEPS and float(p["steps"]).is_integer()):
        raise FaultError(f"{where}: steps must be a whole number in [0, {_MAX_STEPS}]")


def _window(event: Event, t: float, repeat: float | None) -> tuple[float, float | None]:
    """The (start, end) of the occurrence that governs time t (the latest started)."""
    if repeat and t >= event.start:
        index = int((t - event.start) // repeat)
        shift = index * repeat
        return event.start + shift, None if event.end is None else event.end + shift
    return event.start, event.end


def _progress(edge: float, t: float, ramp: float, steps: int) -> float:
    """0 before edge, then k/steps after the k-th step, 1 once the ramp is over."""
    if t < edge:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (math.floor((t - edge) / ramp * steps) + 1) / steps)


def level(event: Event, t: float, repeat: float | None) -> float:
    """How far the event's change is applied at t: 0 (not at all) to 1 (fully)."""
    start, end = _window(event, t, repeat)
    ramp = float(event.param("ramp")) if event.kind == "light" else 0.0
    steps = event.steps if event.kind == "light" else 1
    up = _progress(start, t, ramp, steps)
    down = _progress(end, t, ramp, steps) if end is not None else 0.0
    return max(0.0, up - down)


def light_at(events: tuple[Event, ...], t: float, repeat: float | None, ir: bool) -> Light:
    """The light of a camera at t from its events; `ir`: its mode without events."""
    gain, offset, mode = 1.0, 0.0, ir
    for event in sorted(events, key=lambda e: e.start):
        k = level(event, t, repeat)
        if k <= 0:
            continue
        if event.kind == "light":
            gain *= 1.0 + (float(event.param("gain")) - 1.0) * k
            offset += float(event.param("offset")) * k
        elif event.kind == "ir":
            mode = bool(event.param("on"))
    return Light(round(gain, 4), round(offset, 2), mode)


def change_times(event: Event) -> list[float]:
    """Every moment (in its first occurrence) at which the event changes the light."""
    steps = event.steps if event.kind == "light" else 1
    ramp = float(event.param("ramp")) if event.kind == "light" else 0.0
    edges = [event.start] + ([event.end] if event.end is not None else [])
    return [edge + ramp * i / steps for edge in edges for i in range(steps)]


def next_change(events: tuple[Event, ...], t: float, repeat: float | None) -> float | None:
    """The first moment strictly after t at which any event changes the light."""
    best: float | None = None
    for event in events:
        for edge in change_times(event):
            candidate = edge
            if repeat and candidate <= t:
                candidate += (math.floor((t - edge) / repeat) + 1) * repeat
            if candidate > t and (best is None or candidate < best):
                best = candidate
    return best


def lights_of(events: tuple[Event, ...], ir: bool) -> list[tuple[float, Light]]:
    """Every light a camera goes through (first occurrences) with the moment it
    first does, in order: what to encode ahead."""
    seen: dict[Light, float] = {}
    for x in sorted({x for e in events for x in change_times(e)}):
        seen.setdefault(light_at(events, x + 1e-6, None, ir), x)
    return [(x, light) for light, x in seen.items()]
