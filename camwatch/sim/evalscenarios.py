"""The scored evaluation's built-in scenarios (`camwatch eval`, camwatch/evaluate.py).

All cameras use the camera defaults (640x360, 15 fps, a keyframe every 2 s,
500 kbit/s) unless overridden on the command line.

- "eval-healthy": 16 cameras in two sites for 10 minutes, no fault at all, and
  everything a monitor must not report: moving objects, sudden light steps
  (clouds, lamps, auto exposure), slow ramps (dusk and dawn), day/night
  switches to IR and back, and scenes hard on purpose: busy texture that is not
  noise, dark night streets that are not covered or black, static scenes that
  are not frozen, IR cameras.
- "eval-faults": 16 cameras of those styles; every fault kind 6-7 times, each
  time on a different camera and scene, in 30 s windows separated by 40 s of
  health, after 100 s of health to learn baselines. Parameters vary between
  occurrences; image faults that depend on the scene's brightness get a
  strength that makes them what a technician would call them (a low-light
  fault darkens the picture below the low-light line but does not black it
  out).
- "eval-short": 10 cameras, 90 s: three hard healthy scenes with a light
  step, a ramp and an IR switch, and each image fault plus stall, offline and
  packet loss once (the test suite's version).
"""

from __future__ import annotations

from typing import Any

from .events import Event, make_event
from .faults import Fault, make_fault
from .scenario import CameraSpec, Scenario, ScenarioError

IMAGE_ORDER = ("frozen", "black", "covered", "defocus", "moved", "noise", "low_light",
               "overexposure")  # fmt: skip
STREAM_ORDER = ("stall", "offline", "disconnect", "packet_loss", "jitter", "low_fps",
                "bitrate_drop", "auth", "notfound")  # fmt: skip

_FAULT_START = 100.0  # baselines learn from 30 samples (60 s at a 2 s GOP), stats for 60 s
_FAULT_LEN = 30.0
_SLOT = 70.0  # a fault and the health after it (reconnect backoff, settle, clear)
_SLOTS = 7


def eval_scenario(name: str, defaults: dict[str, Any]) -> Scenario:
    if name == "eval-healthy":
        return _healthy(defaults)
    if name == "eval-faults":
        return _faults(defaults)
    if name == "eval-short":
        return _short(defaults)
    raise ScenarioError(f"unknown evaluation scenario {name!r}")


def _cam(
    name: str, site: str, scene: int, style: str, defaults: dict[str, Any], **kw: Any
) -> CameraSpec:
    return CameraSpec(name=name, site=site, scene=scene, style=style, **{**defaults, **kw})


# --- healthy ---------------------------------------------------------------------


def _healthy(defaults: dict[str, Any]) -> Scenario:
    d = defaults
    cams = [
        _cam("n-street-1", "north", 0, "street", d),
        _cam("n-street-2", "north", 1, "street", d),
        _cam("n-busy-1", "north", 2, "busy", d),
        _cam("n-busy-2", "north", 3, "busy", d),
        _cam("n-night-1", "north", 4, "night", d),
        _cam("n-night-2", "north", 5, "night", d),
        _cam("n-static-1", "north", 6, "static", d),
        _cam("n-static-2", "north", 7, "static", d, noise=0.7),
        _cam("s-ir-1", "south", 8, "street", d, ir=True),
        _cam("s-ir-2", "south", 9, "night", d, ir=True),
        _cam("s-street-3", "south", 10, "street", d),
        _cam("s-street-4", "south", 11, "street", d),
        _cam("s-busy-3", "south", 12, "busy", d, noise=3.0),
        _cam("s-static-3", "south", 13, "static", d),
        _cam("s-night-3", "south", 14, "night", d),
        _cam("s-street-5", "south", 15, "street", d, overlay=False),
    ]
    ev = make_event
    events = [
        ev("n-street-1", "light", 120, 300, {"gain": 1.3, "offset": 10.0}),  # sun out
        ev("n-street-2", "light", 60, 400, {"gain": 0.45, "ramp": 120.0, "steps": 6.0}),  # dusk
        ev("n-busy-1", "light", 200, 260, {"gain": 0.7}),  # a cloud
        ev("n-busy-2", "light", 150, 450, {"gain": 1.15, "offset": -20.0}),  # exposure step
        ev("n-night-1", "ir", 180, 420),  # switches to IR and back
        ev("n-night-2", "light", 300, 540, {"gain": 0.85}),  # some lamps go off
        ev("n-static-2", "light", 240, 480, {"gain": 1.2}),  # a lamp switched on
        ev("s-ir-1", "ir", 300, None, {"on": False}),  # dawn: IR to colour
        ev("s-ir-2", "ir", 200, 400, {"on": False}),  # colour for a while
        ev("s-street-3", "light", 100, 500, {"gain": 0.5, "ramp": 60.0, "steps": 4.0}),
        ev("s-street-3", "ir", 170, 430),  # dusk, then IR, then day again
        *(ev("s-street-4", "light", t, t + 30, {"gain": 0.75}) for t in (60, 200, 350, 500)),
        ev("s-static-3", "light", 100, 400, {"gain": 0.7, "ramp": 80.0, "steps": 4.0}),
        ev("s-night-3", "ir", 120, 480),
        ev("s-street-5", "light", 300, 420, {"offset": -25.0}),
    ]
    return Scenario("eval-healthy", tuple(cams), (), 600.0, seed=11, events=tuple(events))


# --- faults ----------------------------------------------------------------------


def _fault_cameras(defaults: dict[str, Any]) -> list[CameraSpec]:
    d = defaults
    return [
        _cam("f-street-1", "north", 0, "street", d),
        _cam("f-street-2", "north", 1, "street", d),
        _cam("f-busy-1", "north", 2, "busy", d),
        _cam("f-night-1", "north", 3, "night", d),
        _cam("f-static-1", "north", 4, "static", d),
        _cam("f-ir-1", "north", 5, "street", d, ir=True),
        _cam("f-street-3", "north", 6, "street", d),
        _cam("f-busy-2", "north", 7, "busy", d),
        _cam("f-night-2", "south", 8, "night", d),
        _cam("f-static-2", "south", 9, "static", d, noise=0.8),
        _cam("f-street-4", "south", 10, "street", d),
        _cam("f-ir-2", "south", 11, "night", d, ir=True),
        _cam("f-street-5", "south", 12, "street", d),
        _cam("f-busy-3", "south", 13, "busy", d),
        _cam("f-static-3", "south", 14, "static", d),
        _cam("f-night-3", "south", 15, "night", d),
    ]


def _faults(defaults: dict[str, Any]) -> Scenario:
    cams = _fault_cameras(defaults)
    kinds = IMAGE_ORDER + STREAM_ORDER
    faults: list[Fault] = []
    count: dict[str, int] = dict.fromkeys(kinds, 0)
    # Camera c in slot s gets kind (c*7 + s*3) mod 17: each kind lands on ~7
    # different cameras, never twice on one, and neighbours differ per slot.
    for c, cam in enumerate(cams):
        for s in range(_SLOTS):
            kind = kinds[(c * 7 + s * 3) % len(kinds)]
            start = _FAULT_START + s * _SLOT
            faults.append(_planned(cam, kind, start, count[kind]))
            count[kind] += 1
    return Scenario("eval-faults", tuple(cams), tuple(faults), seed=12)


def _planned(cam: CameraSpec, kind: str, start: float, n: int) -> Fault:
    """One occurrence with parameters varied by occurrence and fitted to the scene."""
    length = 20.0 if kind in ("offline", "auth", "notfound") else _FAULT_LEN
    return make_fault(cam.name, kind, start, start + length, fault_params(cam, kind, n))


def fault_params(cam: CameraSpec, kind: str, n: int) -> dict[str, Any]:
    dark = cam.style == "night" and not cam.ir
    if kind == "frozen":
        return {}  # clock=true is not scored: see camwatch/evaluate.py
    if kind == "defocus":
        return {"strength": (8.0, 6.0, 5.0, 8.0, 10.0, 6.0, 7.0)[n % 7]}
    if kind == "moved":
        shifts = ((0.12, 0.08), (-0.1, 0.0), (0.0, -0.1), (0.15, 0.1), (-0.08, 0.08),
                  (0.1, -0.05), (-0.12, -0.1))  # fmt: skip
        dx, dy = shifts[n % len(shifts)]
        return {"dx": dx, "dy": dy}
    if kind == "noise":
        return {"level": (0.85, 0.5, 0.7, 0.4, 0.6, 0.85, 0.5)[n % 7]}
    if kind == "low_light":
        # Mean luma ~20: under the low-light line (30), above black (16).
        return {"gain": 0.45 if dark else 0.17, "sigma": 5.0}
    if kind == "overexposure":
        return {"gain": 4.0 if dark else (2.2, 1.8, 2.5)[n % 3]}
    if kind == "offline":
        return {"mode": "silent" if n % 2 else "close"}
    if kind == "packet_loss":
        return {"percent": (5.0, 8.0, 4.0)[n % 3], "burst": (1.0, 3.0)[n % 2]}
    if kind == "jitter":
        return {"ms": (200.0, 300.0)[n % 2]}
    if kind == "low_fps":
        return {"fps": (2.0, 4.0)[n % 2]}
    if kind == "bitrate_drop":
        return {} if n % 2 == 0 else {"bitrate": 40_000}  # a tenth, or 40 kbit/s
    if kind == "disconnect":
        return {"after": (5.0, 8.0)[n % 2]}
    return {}


# --- short (the test suite's) ------------------------------------------------------


def _short(defaults: dict[str, Any]) -> Scenario:
    d = defaults
    cams = [
        _cam("h-static", "lab", 6, "static", d),
        _cam("h-night", "lab", 4, "night", d),
        _cam("h-busy", "lab", 2, "busy", d),
        _cam("f-a", "lab", 0, "street", d),
        _cam("f-b", "lab", 1, "street", d),
        _cam("f-c", "lab", 3, "busy", d),
        _cam("f-d", "lab", 5, "street", d),
        _cam("f-e", "lab", 8, "night", d),
        _cam("s-a", "lab", 10, "street", d),
        _cam("s-b", "lab", 11, "static", d),
    ]
    plan: list[tuple[str, str, float, float, dict[str, Any]]] = [
        ("f-a", "frozen", 10, 30, {}),
        ("f-a", "covered", 40, 56, {}),
        ("f-b", "black", 10, 24, {}),
        ("f-b", "noise", 36, 52, {"level": 0.6}),
        ("f-c", "low_light", 10, 24, {"gain": 0.17}),
        ("f-c", "overexposure", 36, 52, {}),
        # The baseline needs 30 healthy samples (60 s at a 2 s GOP).
        ("f-d", "moved", 66, 82, {"dx": -0.1, "dy": 0.05}),
        ("f-e", "defocus", 66, 82, {"strength": 6.0}),
        ("s-a", "stall", 10, 25, {}),
        ("s-a", "packet_loss", 40, 58, {"percent": 6.0}),
        ("s-b", "offline", 10, 22, {}),
    ]
    faults = tuple(make_fault(c, k, s, e, p) for c, k, s, e, p in plan)
    events: tuple[Event, ...] = (
        make_event("h-static", "light", 26, 60, {"gain": 1.25}),
        make_event("h-busy", "light", 16, 70, {"gain": 0.6, "ramp": 24.0, "steps": 3.0}),
        make_event("h-night", "ir", 34, 76),
    )
    return Scenario("eval-short", tuple(cams), faults, 90.0, seed=13, events=events)
