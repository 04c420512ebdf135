"""Scene events, styles and the evaluation scenarios of the simulator (pure parts)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from camwatch.sim import ScenarioError, build_scenario
from camwatch.sim.events import Light, light_at, lights_of, make_event, next_change
from camwatch.sim.faults import FaultError
from camwatch.sim.scene import SceneSpec, render

LUMA = np.array([0.299, 0.587, 0.114])


def test_light_step_and_return() -> None:
    e = (make_event("c", "light", 10, 20, {"gain": 0.5, "offset": 4.0}),)
    assert light_at(e, 9.9, None, False) == Light()
    assert light_at(e, 10.0, None, False) == Light(0.5, 4.0, False)
    assert light_at(e, 19.9, None, False) == Light(0.5, 4.0, False)
    assert light_at(e, 20.0, None, False) == Light()
    assert next_change(e, 0, None) == 10 and next_change(e, 10, None) == 20
    assert next_change(e, 20, None) is None


def test_ramp_goes_in_equal_steps_and_back() -> None:
    e = (make_event("c", "light", 100, 200, {"gain": 0.6, "ramp": 40.0, "steps": 4.0}),)
    gains = [light_at(e, t, None, False).gain for t in (99, 100, 110, 120, 130, 150, 200, 230)]
    assert gains == [1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.7, 1.0]
    assert next_change(e, 100, None) == 110
    # Every level it goes through, once, in order: what the server encodes ahead.
    assert [round(light.gain, 2) for _t, light in lights_of(e, False)] == [0.9, 0.8, 0.7, 0.6, 1.0]


def test_ir_switches_and_repeat() -> None:
    on = (make_event("c", "ir", 5, 15),)
    assert [light_at(on, t, None, False).ir for t in (4, 5, 14, 15)] == [False, True, True, False]
    off = (make_event("c", "ir", 5, 15, {"on": False}),)
    assert [light_at(off, t, None, True).ir for t in (4, 5, 15)] == [True, False, True]
    assert light_at(on, 65, 60, False).ir and not light_at(on, 80, 60, False).ir


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("sun", {}, "unknown event"),
        ("light", {"gain": 0.0}, "gain must be"),
        ("light", {"steps": 2.5}, "steps must be"),
        ("light", {"colour": 1.0}, "unknown parameter"),
        ("ir", {"on": 1}, "true or false"),
    ],
)
def test_bad_events_are_refused(kind: str, params: dict, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        make_event("c", kind, 0, 10, params)


def frame(**kw: object) -> np.ndarray:
    spec = SceneSpec(width=320, height=180, fps=10.0, frames=1, scene=3, **kw)  # type: ignore[arg-type]
    return next(render(spec)).astype(np.float32)


def test_styles_are_what_they_claim() -> None:
    street, night, busy = frame(), frame(style="night", noise=3.0), frame(style="busy")
    night_luma = night @ LUMA
    assert 30 < night_luma.mean() < 60  # dark, but above the low-light line
    assert np.percentile(night_luma, 98) - np.percentile(night_luma, 2) > 60  # textured

    # Busy: far more pixel-scale detail than the street (second differences).
    def detail(f: np.ndarray) -> float:
        g = f @ LUMA
        return float(np.abs(g[:, 2:] + g[:, :-2] - 2 * g[:, 1:-1]).mean())

    assert detail(busy) > 1.8 * detail(street)  # measured 2.1
    still = [frame(style="static", noise=0.0) for _ in range(2)]
    assert np.array_equal(still[0], still[1])


def test_ir_mode_is_gray_and_light_scales_the_picture() -> None:
    ir = frame(ir=True, noise=0.0)
    assert np.abs(ir[..., 0] - ir[..., 2]).max() == 0  # no colour at all
    base, dim = frame(noise=0.0, overlay=False), frame(noise=0.0, overlay=False, gain=0.5)
    assert dim.mean() == pytest.approx(base.mean() * 0.5, rel=0.02)


def test_frozen_with_a_ticking_clock() -> None:
    spec = SceneSpec(320, 180, 10.0, 20, scene=1, look="frozen", look_params=(("clock", 1.0),))
    frames = [f.astype(np.int16) for f in render(spec)]
    changed = np.abs(frames[0] - frames[15]).max(axis=2) > 0
    assert changed.any() and not changed[40:].any()  # only the clock corner ticks


def test_eval_scenarios() -> None:
    healthy = build_scenario("eval-healthy")
    assert len(healthy.cameras) == 16 and healthy.faults == () and healthy.duration == 600
    assert {c.site for c in healthy.cameras} == {"north", "south"}
    assert {e.kind for e in healthy.events} == {"light", "ir"}
    assert {c.style for c in healthy.cameras} == {"street", "busy", "night", "static"}
    faults = build_scenario("eval-faults")
    by_kind: dict[str, set[str]] = {}
    for f in faults.faults:
        by_kind.setdefault(f.kind, set()).add(f.camera)
    assert all(len(cams) >= 6 for cams in by_kind.values()), by_kind
    assert len(by_kind) == 17
    for cam in faults.cameras:  # never two faults at once on a camera
        spans = sorted((f.start, f.end) for f in faults.faults_for(cam.name))
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    with pytest.raises(ScenarioError, match="fixed set of cameras"):
        build_scenario("eval-short", cameras=3)


def test_events_and_styles_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        """
        [[cameras]]
        name = "yard"
        style = "busy"
        noise = 3
        [[cameras]]
        name = "gate"
        ir = true
        [[events]]
        camera = ["yard", "gate"]
        event = "light"
        start = 5
        end = 9
        gain = 0.7
        """
    )
    s = build_scenario(str(path))
    yard, gate = s.camera("yard"), s.camera("gate")
    assert (yard.style, yard.sensor_noise, gate.ir, gate.sensor_noise) == ("busy", 3.0, True, 2.0)
    assert [(e.camera, e.param("gain")) for e in s.events] == [("yard", 0.7), ("gate", 0.7)]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[cameras]]\nname = "a"\nstyle = "fog"\n')
    with pytest.raises(ScenarioError, match="style 'fog'"):
        build_scenario(str(bad))
