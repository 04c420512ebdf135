"""The TUI's plain logic: column planning, the filter language, formatting, models."""

from __future__ import annotations

from dataclasses import replace

import pytest
from camwatch.tui import format as fmt
from camwatch.tui import sample
from camwatch.tui.columns import Col, plan
from camwatch.tui.model import AlertBook, FleetModel
from camwatch.tui.query import (
    ALERT_FIELDS,
    CAMERA_FIELDS,
    QueryError,
    match_alert,
    match_camera,
    parse_query,
)
from camwatch.tui.screens.dialogs import parse_duration
from camwatch.tui.screens.fleet import COLUMNS as FLEET_COLUMNS
from camwatch.tui.screens.fleet import natural, summary

from camwatch.alerts.model import AlertEvent, AlertState
from camwatch.bus import LocalBus
from camwatch.control import ControlError, MemoryControl
from camwatch.state import Condition, Severity, Status

NOW = sample.EPOCH


# --- columns --------------------------------------------------------------------


def test_plan_keeps_everything_when_wide_and_gives_spare_to_growers() -> None:
    cols = (Col("a", "A", 5, 0), Col("b", "B", 5, 1, grow=3), Col("c", "C", 5, 2, grow=100))
    out = plan(cols, 40)
    assert [(c.key, w) for c, w in out] == [("a", 5), ("b", 8), ("c", 21)]


def test_plan_drops_the_lowest_priority_first_and_never_priority_zero() -> None:
    cols = (Col("a", "A", 10, 0), Col("b", "B", 10, 2), Col("c", "C", 10, 1), Col("d", "D", 10, 2))
    # each column needs 10 + 2 cells of padding
    assert [c.key for c, _ in plan(cols, 48)] == ["a", "b", "c", "d"]
    assert [c.key for c, _ in plan(cols, 47)] == ["a", "b", "c"]  # d declared last drops first
    assert [c.key for c, _ in plan(cols, 35)] == ["a", "c"]  # then b (priority 2)
    assert [c.key for c, _ in plan(cols, 5)] == ["a"]


def test_fleet_columns_at_80_and_160() -> None:
    at80 = [c.key for c, _ in plan(FLEET_COLUMNS, 79)]
    assert at80 == ["state", "name", "since", "fps", "loss", "why"]
    at160 = plan(FLEET_COLUMNS, 159)
    assert [c.key for c, _ in at160] == [c.key for c in FLEET_COLUMNS]
    assert sum(w + 2 for _, w in at160) == 159


# --- filter language ---------------------------------------------------------------------


def test_parse_query_fields_aliases_and_errors() -> None:
    q = parse_query("Gate site:North status:off", CAMERA_FIELDS)
    assert q.terms == ((None, "gate"), ("site", "north"), ("state", "off"))
    assert not parse_query("   ", CAMERA_FIELDS)
    with pytest.raises(QueryError, match=r"unknown filter field 'colour'.*name, site, tag, state"):
        parse_query("colour:red", CAMERA_FIELDS)


def test_match_camera_by_name_site_tag_and_state_word() -> None:
    st = sample.camera("gate-3", site="harbour", status=Status.OFFLINE, tags=("lobby",))
    look = fmt.look(st)

    def m(text: str) -> bool:
        return match_camera(parse_query(text, CAMERA_FIELDS), st, look)

    assert m("gate") and m("harb") and m("lobby") and m("off")
    assert m("site:harbour state:offline tag:lob name:gate-3")
    assert not m("site:north")
    assert not m("state:live")
    assert not m("gate site:north")  # every term must match


def test_match_alert_by_severity_site_and_rule() -> None:
    states = sample.fleet(60)
    alerts = sample.alerts_for(states)
    crit = [a for a in alerts if match_alert(parse_query("sev:crit", ALERT_FIELDS), a)]
    assert crit and all(a.severity is Severity.CRITICAL for a in crit)
    assert len(crit) < len(alerts)
    one = alerts[0]
    q = parse_query(f"site:{one.site} rule:{one.rule} {one.camera}", ALERT_FIELDS)
    assert match_alert(q, one)


# --- formatting ------------------------------------------------------------------------


def test_look_words_symbols_and_order() -> None:
    frozen = Condition("frozen", True, 40, 15, "", Severity.CRITICAL)
    loss = Condition("packet_loss", True, 0.1, 0.02, "", Severity.WARNING)
    idle = Condition("motion", False, 3, 50)
    cases = {
        "live": sample.camera("a", conditions=(idle,)),
        "warning": sample.camera("b", conditions=(loss,)),
        "critical": sample.camera("c", conditions=(loss, frozen)),
        "auth failed": sample.camera("d", status=Status.AUTH_FAILED),
        "connecting": sample.camera("e", status=Status.CONNECTING),
        "stopped": sample.camera("f", status=Status.STOPPED),
    }
    looks = {word: fmt.look(st) for word, st in cases.items()}
    assert {w: lk.word for w, lk in looks.items()} == {w: w for w in cases}
    assert looks["auth failed"].label == "✖ auth failed"
    assert looks["live"].label == "● live"
    ranks = sorted(looks, key=lambda w: looks[w].rank)
    assert ranks == ["auth failed", "critical", "warning", "connecting", "live", "stopped"]


def test_open_stream_rule_alerts_worsen_only_a_live_cameras_word() -> None:
    live = sample.camera("a")
    warn = (("jitter", Severity.WARNING),)
    crit = (("packet_loss", Severity.CRITICAL), ("jitter", Severity.WARNING))
    assert (fmt.look(live), fmt.why(live)) == (fmt.LIVE, "")
    assert (fmt.look(live, warn), fmt.why(live, warn)) == (fmt.WARNING, "jitter")
    assert (fmt.look(live, crit), fmt.why(live, crit)) == (fmt.CRITICAL, "packet loss, jitter")
    loss = Condition("packet_loss", True, 0.1, 0.02, "", Severity.WARNING)
    both = sample.camera("b", conditions=(loss,))
    assert fmt.why(both, crit) == "packet loss, jitter"  # a rule named once
    down = sample.camera("c", status=Status.OFFLINE, reason="connect timeout")
    assert (fmt.look(down, crit).word, fmt.why(down, crit)) == ("offline", "connect timeout")
    connecting = sample.camera("d", status=Status.CONNECTING)
    assert fmt.look(connecting, crit) is fmt.CONNECTING


def test_fleet_model_takes_open_stream_rule_alerts_per_camera() -> None:
    lossy = sample.camera("cam-1", loss=0.06)
    blurred = sample.camera(
        "cam-2", conditions={"defocus": (31.0, "sharpness 31%", Severity.WARNING)}
    )
    model = FleetModel()
    model.apply([lossy, blurred])
    assert model.look(lossy) is fmt.LIVE
    [loss_alert] = sample.alerts_for([lossy])
    [image_alert] = sample.alerts_for([blurred])
    version = model.version
    assert model.note_alerts([loss_alert, image_alert]) == {"cam-1"}  # conditions show images
    assert model.version == version + 1
    assert model.look(lossy) is fmt.WARNING and model.why(lossy) == "packet loss"
    assert model.note_alerts([loss_alert, image_alert]) == set()  # nothing new: no repaint
    acked = replace(loss_alert, state=AlertState.ACKNOWLEDGED)
    assert model.note_alerts([acked]) == set()  # acknowledged is still open
    resolved = replace(loss_alert, state=AlertState.RESOLVED)
    assert model.note_alerts([resolved]) == {"cam-1"}
    assert model.look(lossy) is fmt.LIVE and model.why(lossy) == ""


def test_why_redacts_credentials_in_failure_reasons() -> None:
    st = sample.camera("x", status=Status.AUTH_FAILED, reason="401 from rtsp://admin:hunter2@cam/1")
    assert fmt.why(st) == "401 from rtsp://admin:***@cam/1"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h00m"), (90061, "1d01h")],
)
def test_duration(seconds: float, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_figures() -> None:
    assert fmt.bitrate(0) == "0"
    assert fmt.bitrate(850_000) == "850k"
    assert fmt.bitrate(2_150_000) == "2.1M"
    assert fmt.bitrate(25_000_000) == "25M"
    assert fmt.percent(0.0312) == "3.1%"
    assert fmt.percent(0.25) == "25%"
    assert fmt.level_bar(0) == "▁" and fmt.level_bar(100) == "█"


def test_summary_puts_live_first_then_worst() -> None:
    states = sample.fleet(200)
    rows = summary(fmt.look(s) for s in states)
    assert rows[0][0] == "live"
    assert sum(n for _, n, _ in rows) == 200
    rank = {fmt.look(s).word: fmt.look(s).rank for s in states}
    rest = [w for w, _, _ in rows[1:]]
    assert rest == sorted(rest, key=lambda w: (rank[w], w))
    assert len(rest) >= 3  # the sample fleet has offline, warning, critical, auth failed


def test_natural_sort() -> None:
    assert sorted(["cam-10", "cam-2", "cam-1"], key=natural) == ["cam-1", "cam-2", "cam-10"]


def test_parse_duration() -> None:
    assert parse_duration("30m") == 1800
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 172800
    assert parse_duration("45") == 2700  # bare numbers are minutes
    with pytest.raises(ValueError, match="30m, 2h"):
        parse_duration("soon")
    with pytest.raises(ValueError):
        parse_duration("1h and 5m")


# --- models ---------------------------------------------------------------------------


def test_fleet_model_keeps_latest_state_and_bounded_history() -> None:
    model = FleetModel(history=3)
    for i in range(5):
        changed = model.apply([sample.camera("a", fps=float(i), now=NOW + i)])
        assert changed == {"a"}
    assert model.states["a"].stats.fps == 4.0
    assert model.series("a", "fps") == [2.0, 3.0, 4.0]
    assert model.apply([model.states["a"]]) == set()  # same state: nothing changed
    assert model.series("a", "motion") == [10.0, 10.0, 10.0]


def test_fleet_model_replace_all_drops_vanished_cameras() -> None:
    model = FleetModel()
    model.apply([sample.camera("a"), sample.camera("b")])
    changed = model.replace_all({"b": sample.camera("b", fps=5.0)})
    assert changed == {"a", "b"}
    assert set(model.states) == {"b"}


def test_alert_book_order_and_stale_updates() -> None:
    alerts = sample.alerts_for(sample.fleet(100))
    book = AlertBook()
    for a in alerts:
        book.upsert(a)
    ordered = book.ordered()
    assert ordered[0].severity is Severity.CRITICAL
    first = ordered[0]
    acked = replace(first, state=AlertState.ACKNOWLEDGED, updated=first.updated + 5)
    book.apply(AlertEvent("acknowledged", acked, acked.updated))
    book.upsert(first)  # an older copy arriving late must not undo the ack
    assert book.get(first.id).state is AlertState.ACKNOWLEDGED
    # acknowledged alerts sort after every firing one
    states_in_order = [a.state for a in book.ordered()]
    assert states_in_order.index(AlertState.ACKNOWLEDGED) == len(alerts) - 1


def test_alert_book_is_bounded() -> None:
    alerts = sample.alerts_for(sample.fleet(300))
    book = AlertBook(limit=5)
    for a in alerts:
        book.upsert(a)
    assert len(book) == 5


# --- MemoryControl ------------------------------------------------------------------------


async def test_memory_control_acks_silences_and_publishes_events() -> None:
    bus = LocalBus()
    sub = bus.subscribe()
    ctl = MemoryControl(bus, clock=lambda: NOW)
    states = sample.fleet(60)
    sample.populate(bus, ctl, states)
    sub.get_nowait()
    alert = (await ctl.active_alerts())[0]
    acked = await ctl.acknowledge(alert.id, "ann", "on it")
    assert (acked.state, acked.acked_by, acked.ack_comment) == (
        AlertState.ACKNOWLEDGED,
        "ann",
        "on it",
    )
    events = sub.get_nowait()
    assert [e.kind for e in events] == ["acknowledged"]
    with pytest.raises(ControlError, match="unknown alert"):
        await ctl.acknowledge("nope", "ann", "")
    silence = await ctl.silence("site", alert.site, 3600, "mast work", "ann")
    assert silence.end - silence.start == 3600
    muted = [e.alert for e in sub.get_nowait()]
    assert muted and all(a.site == alert.site and a.silenced for a in muted)
    with pytest.raises(ControlError, match="camera, site, tag"):
        await ctl.silence("planet", "x", 60, "", "ann")
    with pytest.raises(ControlError, match="unknown camera"):
        await ctl.capture_baseline("ghost", "ann")


def test_sparkline() -> None:
    assert fmt.sparkline([1.0], 10) == ""
    assert fmt.sparkline([0, 50, 100], 10) == "▁▄█"
    assert fmt.sparkline([5, 5, 5], 10) == "▄▄▄"
    assert fmt.sparkline(list(range(20)), 4) == "▁▃▅█"


def test_fleet_model_takes_states_with_real_analysis_results() -> None:
    # AnalysisResult holds numpy arrays: comparing two states holding one must not raise.
    model = FleetModel()
    first = sample.camera("a", fps=10.0)
    assert model.apply([first]) == {"a"}
    again = replace(first, analysis=sample.analysis(10.0, 96.0, first.conditions))
    assert again.analysis is not first.analysis
    assert model.apply([again]) == set()  # equal figures: not a change
    blurred = replace(first, analysis=sample.analysis(10.0, 40.0, first.conditions))
    assert model.apply([blurred]) == {"a"}
    assert fmt.sharpness(blurred) == 40.0 and fmt.motion(blurred) == 10.0
    assert model.look(blurred) is model.look(blurred)  # cached until the state changes
