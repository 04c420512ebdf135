"""Rule engine: hysteresis, thresholds and their precedence, flapping, suppression, lifecycle."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

import pytest

from camwatch.alerts.model import AlertState, Silence
from camwatch.alerts.rules import (
    DEFAULT_SPECS,
    LEARN_S,
    SETTLE_S,
    RuleConfigError,
    RuleEngine,
    UnknownAlertError,
    parse_rules_config,
)
from camwatch.state import CameraState, Condition, Severity, Status, StreamStats


def state(
    status: Status = Status.LIVE,
    since: float = 0.0,
    name: str = "cam1",
    site: str = "depot",
    tags: tuple[str, ...] = (),
    conditions: tuple[Condition, ...] = (),
    reason: str = "",
    **stats: float,
) -> CameraState:
    return CameraState(
        name=name,
        url=f"rtsp://{name}/",
        site=site,
        tags=tags,
        status=status,
        reason=reason,
        since=since,
        stats=StreamStats(**stats),
        conditions=conditions,
    )


def run(engine: RuleEngine, seq: list[tuple[float, CameraState | None]]) -> list:
    """Feed (time, state) pairs; None means a tick. Returns all events."""
    events = []
    for t, s in seq:
        events += engine.tick(t) if s is None else engine.evaluate(s, t)
    return events


def kinds(events) -> list[tuple[str, str]]:
    return [(e.kind, e.alert.rule) for e in events]


def test_a_two_second_blip_pages_nobody() -> None:
    eng = RuleEngine()
    seq = [(0, state(since=0))]
    seq += [(t, state(Status.OFFLINE, since=100)) for t in (100, 101, 102)]
    seq += [(t, state(Status.LIVE, since=102)) for t in range(102, 200)]
    assert run(eng, seq) == []


def test_offline_raises_after_delay_and_resolves_after_clear_delay() -> None:
    eng = RuleEngine()
    events = run(eng, [(0, state(Status.OFFLINE, since=0, reason="connection refused"))])
    events += run(eng, [(t, None) for t in (5, 9.9)])
    assert events == []
    events = eng.tick(10.0)
    assert kinds(events) == [("raised", "offline")]
    alert = events[0].alert
    assert alert.severity is Severity.CRITICAL
    assert alert.reason == "connection refused"
    assert alert.started == 0 and alert.raised == 10.0
    assert eng.alerts() == (alert,)
    # Back live at 30: resolve only after 20 s of being live.
    assert run(eng, [(30, state(since=30)), (49.9, None)]) == []
    events = eng.tick(50)
    assert kinds(events) == [("resolved", "offline")]
    assert events[0].alert.state is AlertState.RESOLVED and events[0].alert.resolved_at == 50
    assert eng.alerts() == ()


def test_connecting_between_failures_keeps_the_outage_going() -> None:
    eng = RuleEngine()
    seq = [
        (0, state(Status.OFFLINE)),
        (3, state(Status.CONNECTING, since=3)),
        (6, state(Status.OFFLINE, since=6)),
        (9, state(Status.CONNECTING, since=9)),
        (10, None),
    ]
    assert kinds(run(eng, seq)) == [("raised", "offline")]
    # Connecting after the raise does not count as recovery either.
    assert run(eng, [(t, state(Status.CONNECTING, since=40)) for t in range(40, 100)]) == []
    assert len(eng.alerts()) == 1


def test_a_different_failure_replaces_the_first() -> None:
    eng = RuleEngine()
    events = run(eng, [(0, state(Status.OFFLINE)), (10, None)])
    events += run(eng, [(15, state(Status.AUTH_FAILED, since=15)), (25, None), (35, None)])
    assert kinds(events) == [
        ("raised", "offline"),
        ("raised", "auth_failed"),
        ("resolved", "offline"),
    ]


def test_default_severities() -> None:
    crit = {r for r, s in DEFAULT_SPECS.items() if s.severity is Severity.CRITICAL}
    assert crit == {"offline", "stalled", "auth_failed", "not_found", "covered"}


def test_packet_loss_threshold_and_raise_delay() -> None:
    eng = RuleEngine()
    seq = [(t, state(since=0, loss_ratio=0.01)) for t in range(0, 20)]
    seq += [(t, state(since=0, loss_ratio=0.05)) for t in range(20, 40)]
    assert run(eng, seq) == []
    events = eng.evaluate(state(since=0, loss_ratio=0.05), 40)
    assert kinds(events) == [("raised", "packet_loss")]
    assert events[0].alert.severity is Severity.WARNING
    assert events[0].alert.value == 0.05 and events[0].alert.threshold == 0.02
    assert "5.0%" in events[0].alert.reason


@dataclass
class Cam:
    name: str
    site: str = ""
    tags: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)


def test_threshold_precedence_camera_over_tag_over_site_over_rule() -> None:
    config = {
        "packet_loss": {"threshold": 0.03, "severity": "critical"},
        "sites": {"depot": {"packet_loss": 0.04, "jitter": {"threshold": 70}}},
        "tags": {
            "wifi": {"packet_loss": {"threshold": 0.08}, "jitter": 90},
            "outdoor": {"packet_loss": 0.09, "low_light": {"enabled": False}},
        },
        "cameras": {"c3": {"packet_loss": 0.12}},
    }
    cams = [
        Cam("c0"),
        Cam("c1", "depot"),
        Cam("c2", "depot", ("wifi", "outdoor")),
        Cam("c3", "depot", ("wifi",)),
        Cam("c4", "depot", ("wifi",), {"packet_loss": 0.2, "min_fps": 5}),
    ]
    eng = RuleEngine(config, cams)
    loss = {c.name: eng.specs_for(c.name)["packet_loss"].threshold for c in cams}
    assert loss == {"c0": 0.03, "c1": 0.04, "c2": 0.08, "c3": 0.12, "c4": 0.2}
    assert eng.specs_for("c0")["packet_loss"].severity is Severity.CRITICAL
    assert eng.specs_for("c0")["jitter"].threshold == DEFAULT_SPECS["jitter"].threshold
    assert eng.specs_for("c1")["jitter"].threshold == 70
    assert eng.specs_for("c2")["jitter"].threshold == 90
    assert eng.specs_for("c2")["low_light"].enabled is False
    assert eng.specs_for("c4")["low_fps"].min_fps == 5


def test_site_override_changes_the_verdict() -> None:
    seq = [(t, state(since=0, site="depot", loss_ratio=0.05)) for t in range(0, 80)]
    assert kinds(run(RuleEngine(), seq)) == [("raised", "packet_loss")]
    lenient = RuleEngine({"sites": {"depot": {"packet_loss": 0.1}}})
    assert run(lenient, seq) == []


def test_invalid_config_lists_every_problem() -> None:
    with pytest.raises(RuleConfigError) as err:
        parse_rules_config(
            {
                "packet_loss": {"severity": "urgent", "raise_after": -1},
                "nonsense": {},
                "sites": {"x": {"jitter": "high"}},
                "flapping": {"changes": 0},
            }
        )
    text = str(err.value)
    assert len(err.value.problems) == 5
    for needle in ("severity", "raise_after", "nonsense", "rules.sites.x.jitter", "changes"):
        assert needle in text


def test_statistics_and_image_rules_are_suppressed_while_offline() -> None:
    eng = RuleEngine()
    frozen = Condition("frozen", True, 0.1, 0.5, "picture frozen")
    events = run(eng, [(t, state(since=0, conditions=(frozen,))) for t in range(0, 15)])
    # Pending for 15 s, then the camera goes offline: the frozen alert must never raise.
    for t in range(15, 80):
        events += eng.evaluate(state(Status.OFFLINE, since=15, conditions=(frozen,)), t)
    assert kinds(events) == [("raised", "offline")]
    # Live again, not frozen anymore.
    for t in range(80, 200):
        events += eng.evaluate(state(since=80), t)
    assert kinds(events) == [("raised", "offline"), ("resolved", "offline")]


def test_open_image_alert_is_kept_unchanged_during_an_outage() -> None:
    eng = RuleEngine()
    covered = Condition("covered", True, reason="lens covered", severity=Severity.CRITICAL)
    events = run(eng, [(t, state(since=0, conditions=(covered,))) for t in range(0, 31)])
    assert kinds(events) == [("raised", "covered")]
    # Offline for 5 minutes: covered neither resolves nor re-raises.
    more = run(eng, [(t, state(Status.OFFLINE, since=31)) for t in range(31, 331)])
    assert kinds(more) == [("raised", "offline")]
    assert {a.rule for a in eng.alerts()} == {"covered", "offline"}


def test_unknown_condition_kind_becomes_a_rule_with_its_own_severity() -> None:
    eng = RuleEngine()
    glare = Condition("glare", True, reason="sun glare", severity=Severity.CRITICAL)
    events = run(eng, [(t, state(since=0, conditions=(glare,))) for t in range(0, 31)])
    assert kinds(events) == [("raised", "glare")]
    assert events[0].alert.severity is Severity.CRITICAL
    # The condition disappearing from the state means it cleared.
    events = run(eng, [(t, state(since=0)) for t in range(31, 92)])
    assert kinds(events) == [("resolved", "glare")]


def test_motion_conditions_never_alert() -> None:
    eng = RuleEngine()
    motion = Condition("motion", True, 0.7)
    assert run(eng, [(t, state(since=0, conditions=(motion,))) for t in range(0, 100)]) == []


def test_low_fps_against_the_learned_nominal_rate() -> None:
    eng = RuleEngine()
    seq = [(t, state(since=0, fps=25.0)) for t in range(0, 200)]
    seq += [(t, state(since=0, fps=10.0)) for t in range(200, 220)]
    assert run(eng, seq) == []
    events = eng.evaluate(state(since=0, fps=10.0), 220)
    assert kinds(events) == [("raised", "low_fps")]
    assert events[0].alert.threshold == pytest.approx(12.5, rel=0.05)
    assert "25" in events[0].alert.reason


def test_low_fps_needs_learning_before_judging() -> None:
    eng = RuleEngine()
    seq = [(t, state(since=0, fps=25.0)) for t in range(0, 30)]
    learned = int(SETTLE_S + LEARN_S)  # learning starts once the camera has settled
    seq += [(t, state(since=0, fps=5.0)) for t in range(30, learned)]
    assert run(eng, seq) == []  # not enough learned yet: no verdict on a new camera
    # Once learned, the drop (25 -> 5 fps) is judged and raised after the raise delay.
    later = run(eng, [(t, state(since=0, fps=5.0)) for t in range(learned, learned + 25)])
    assert kinds(later) == [("raised", "low_fps")]


def test_low_fps_absolute_floor() -> None:
    eng = RuleEngine(cameras=[Cam("cam1", thresholds={"min_fps": 8})])
    events = run(eng, [(t, state(since=0, fps=6.0)) for t in range(0, 45)])
    assert kinds(events) == [("raised", "low_fps")]
    assert events[0].alert.threshold == 8


def test_bitrate_drop_against_the_learned_bitrate() -> None:
    eng = RuleEngine()
    seq = [(t, state(since=0, bitrate_bps=4e6)) for t in range(0, 200)]
    seq += [(t, state(since=0, bitrate_bps=3e6)) for t in range(200, 300)]  # normal VBR dip
    assert run(eng, seq) == []
    events = run(eng, [(t, state(since=0, bitrate_bps=0.3e6)) for t in range(300, 335)])
    assert kinds(events) == [("raised", "bitrate_drop")]


def test_long_gop_jitter_and_clock_drift() -> None:
    eng = RuleEngine()
    seq = [
        (t, state(since=0, gop_s=12.0, frame_jitter_ms=40.0, clock_drift_ppm=-900.0))
        for t in range(0, 45)
    ]
    assert sorted(kinds(run(eng, seq))) == [
        ("raised", "clock_drift"),
        ("raised", "jitter"),
        ("raised", "long_gop"),
    ]


def test_jitter_judges_frames_not_packets() -> None:
    # 12 ms per packet (diluted) but 35 ms between frames: the frame figure decides.
    eng = RuleEngine()
    seq = [(t, state(since=0, jitter_ms=12.0, frame_jitter_ms=35.0)) for t in range(0, 45)]
    (event,) = run(eng, seq)
    assert kinds([event]) == [("raised", "jitter")]
    assert "frame jitter 35 ms above 30 ms" in event.alert.reason
    eng = RuleEngine()
    assert (
        run(eng, [(t, state(since=0, jitter_ms=80.0, frame_jitter_ms=5.0)) for t in range(45)])
        == []
    )


def test_statistics_are_not_judged_right_after_connecting() -> None:
    eng = RuleEngine({"packet_loss": {"raise_after": 0}})
    assert eng.evaluate(state(since=100, loss_ratio=0.5), 105) == []
    assert kinds(eng.evaluate(state(since=100, loss_ratio=0.5), 111)) == [("raised", "packet_loss")]


def test_a_quiet_camera_is_judged_once_it_has_settled() -> None:
    # Loss alert open, an outage, then one healthy state right after going live
    # and nothing more for a while (a quiet camera republishes every 5 s):
    # the engine judges that state once the camera has settled, on its tick.
    eng = RuleEngine({"packet_loss": {"raise_after": 0, "clear_after": 0}})
    assert kinds(eng.evaluate(state(since=0, loss_ratio=0.5), 20)) == [("raised", "packet_loss")]
    assert eng.evaluate(state(Status.STALLED, since=30), 30) == []
    assert eng.evaluate(state(since=60, loss_ratio=0.0), 61) == []  # held while settling
    assert eng.tick(60 + SETTLE_S - 1) == []
    assert kinds(eng.tick(60 + SETTLE_S)) == [("resolved", "packet_loss")]


def flap_cycle(eng: RuleEngine, start: float, down: float, up: float) -> list:
    events = []
    for t in range(int(start), int(start + down)):
        events += eng.evaluate(state(Status.OFFLINE, since=start), t)
    for t in range(int(start + down), int(start + down + up)):
        events += eng.evaluate(state(since=start + down), t)
    return events


def test_flapping_gives_one_alert_instead_of_a_stream() -> None:
    eng = RuleEngine()
    events = []
    t = 0.0
    for _ in range(8):  # 15 s down / 25 s up: each outage raises, each recovery resolves
        events += flap_cycle(eng, t, 15, 25)
        t += 40
    assert kinds(events) == [
        ("raised", "offline"),
        ("resolved", "offline"),
        ("raised", "offline"),
        ("flapping", "offline"),
    ]
    assert events[-1].alert.flapping
    assert len(eng.alerts()) == 1
    # Stable for the quiet period: the flapping alert resolves, once.
    later = run(eng, [(x, state(since=t)) for x in range(int(t), int(t) + 301)])
    assert kinds(later) == [("resolved", "offline")]
    assert later[0].alert.flapping
    # Afterwards a single outage is an ordinary alert again.
    again = flap_cycle(eng, t + 400, 15, 25)
    assert kinds(again) == [("raised", "offline"), ("resolved", "offline")]
    assert not again[0].alert.flapping


def test_outages_far_apart_are_not_flapping() -> None:
    eng = RuleEngine()
    events = []
    for i in range(4):
        events += flap_cycle(eng, i * 700.0, 15, 25)  # 4 changes never fit in 600 s
    assert [k for k, _ in kinds(events)] == ["raised", "resolved"] * 4


def test_ack_lifecycle_with_os_login_name() -> None:
    eng = RuleEngine()
    (raised,) = run(eng, [(0, state(Status.STALLED)), (10, None)])
    ev = eng.ack(raised.alert.id, comment="truck on the way", now=12)
    assert ev.kind == "acknowledged"
    assert ev.alert.state is AlertState.ACKNOWLEDGED
    assert ev.alert.acked_by == getpass.getuser()
    assert (ev.alert.acked_at, ev.alert.ack_comment) == (12, "truck on the way")
    (resolved,) = run(eng, [(20, state(since=20)), (40, None)])
    assert resolved.kind == "resolved"
    assert resolved.alert.acked_by == getpass.getuser()
    assert resolved.alert.state is AlertState.RESOLVED
    with pytest.raises(UnknownAlertError):
        eng.ack(raised.alert.id)


def test_silence_marks_alerts_but_still_records_them() -> None:
    eng = RuleEngine(cameras=[Cam("cam1", "depot", ("lobby",)), Cam("cam2", "yard")])
    sil, events = eng.silence(Silence(None, "tag", "lobby", 0, 100, "painting", "ann"), now=0)
    assert sil.id == 1 and events == []
    events = run(eng, [(0, state(Status.OFFLINE, tags=("lobby",))), (10, None)])
    events += run(eng, [(0, state(Status.OFFLINE, name="cam2", site="yard")), (10, None)])
    assert [(e.alert.camera, e.alert.silenced) for e in events] == [
        ("cam1", True),
        ("cam2", False),
    ]
    # The silence ends: the still-open alert is announced as unsilenced.
    assert [(e.kind, e.alert.camera) for e in eng.tick(100)] == [("unsilenced", "cam1")]
    # A silence added while firing marks the open alert at once.
    _, events = eng.silence(Silence(None, "site", "yard", 100, 200, "", "ann"), now=101)
    assert [(e.kind, e.alert.camera, e.alert.silenced) for e in events] == [
        ("silenced", "cam2", True)
    ]
    assert [(e.kind, e.alert.camera) for e in eng.unsilence(2, now=102)] == [("unsilenced", "cam2")]


def test_stopped_resolves_at_once() -> None:
    eng = RuleEngine()
    run(eng, [(0, state(Status.OFFLINE)), (10, None)])
    assert kinds(eng.evaluate(state(Status.STOPPED, since=11), 11)) == [("resolved", "offline")]
    assert eng.alerts() == ()


def test_disabled_rule_never_alerts() -> None:
    eng = RuleEngine({"offline": {"enabled": False}})
    assert run(eng, [(t, state(Status.OFFLINE)) for t in range(0, 100)]) == []


def test_restored_alert_is_not_raised_again_and_resolves_when_clear() -> None:
    first = RuleEngine()
    (raised,) = run(first, [(0, state(Status.OFFLINE)), (10, None)])
    second = RuleEngine()  # the daemon restarted
    second.restore([raised.alert])
    assert second.alerts() == (raised.alert,)
    assert run(second, [(t, state(Status.OFFLINE)) for t in range(100, 150)]) == []
    events = run(second, [(t, state(since=150)) for t in range(150, 171)])
    assert kinds(events) == [("resolved", "offline")]
    assert events[0].alert.id == raised.alert.id


def test_reload_resolves_alerts_of_removed_cameras() -> None:
    eng = RuleEngine(cameras=[Cam("cam1"), Cam("cam2")])
    run(eng, [(0, state(Status.OFFLINE, name="cam2")), (10, None)])
    events = eng.update_config({}, [Cam("cam1")], now=20)
    assert [(e.kind, e.alert.camera) for e in events] == [("resolved", "cam2")]


def test_reasons_never_carry_passwords() -> None:
    eng = RuleEngine()
    s = state(Status.OFFLINE, reason="refused by rtsp://admin:hunter2@10.0.0.5/live")
    (ev,) = run(eng, [(0, s), (10, None)])
    assert "hunter2" not in ev.alert.reason and "admin" in ev.alert.reason


def test_maintenance_window_suppresses_like_a_silence() -> None:
    eng = RuleEngine(cameras=[Cam("cam1", "depot")])
    window = Silence(None, "site", "depot", 5, 50, "new switch", "ann", maintenance=True)
    eng.silence(window, now=0)
    (ev,) = run(eng, [(0, state(Status.OFFLINE)), (10, None)])
    assert ev.alert.silenced
    (ev,) = run(eng, [(60, state(Status.OFFLINE)), (61, None)])
    assert (ev.kind, ev.alert.silenced) == ("unsilenced", False)  # the window ended at 50
