"""Alerts screen: the live feed, acknowledging, silencing, filters and history."""

from __future__ import annotations

from dataclasses import replace

from camwatch.tui import sample
from camwatch.tui.screens.alerts import AlertsScreen
from camwatch.tui.screens.camera import CameraScreen
from camwatch.tui.screens.dialogs import AckDialog, SilenceDialog
from camwatch.tui.screens.fleet import FleetScreen
from camwatch.tui.widgets.status_table import StatusTable

from camwatch.alerts.model import AlertState
from camwatch.state import Severity


async def alerts_screen(app, pilot) -> AlertsScreen:  # type: ignore[no-untyped-def]
    await app.alerts_loaded.wait()
    await pilot.pause()
    await pilot.press("2")
    await pilot.pause()
    assert isinstance(app.screen, AlertsScreen)
    return app.screen


def column(table: StatusTable, key: str) -> list[str]:
    return [str(table.get_cell(row, key)) for row in table.order]


async def test_feed_lists_firing_alerts_critical_first() -> None:
    app, _bus, _ctl, states = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        expected = sample.alerts_for(states)
        assert sorted(screen.table.order) == sorted(a.id for a in expected)
        sev = column(screen.table, "sev")
        assert sev == sorted(sev, key=lambda s: 0 if "critical" in s else 1)
        assert sev[0] == "◆ critical"
        assert set(column(screen.table, "state")) == {"firing"}
        critical = sum(1 for a in expected if a.severity is Severity.CRITICAL)
        assert len(expected) >= 4 and 0 < critical < len(expected)
        counts = str(screen.query_one("#counts").render())
        assert counts.startswith(f"{len(expected)} firing · {critical} critical")


async def test_new_alert_event_appears_live() -> None:
    app, _bus, ctl, states = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        template = sample.alerts_for(states)[0]
        fresh = replace(
            template,
            id="cam-020:black:1",
            camera="cam-020",
            rule="black",
            raised=sample.EPOCH - 5,
            updated=sample.EPOCH - 5,
        )
        ctl.raise_alert(fresh)
        app.drain()
        await pilot.pause()
        assert fresh.id in screen.table.order
        assert str(screen.table.get_cell(fresh.id, "age")) == "5s"


async def test_ack_from_the_feed_with_comment() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        target = screen.table.order[0]
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AckDialog)
        await pilot.press(*"power cut, utility informed", "enter")
        await app.workers.wait_for_complete()
        app.drain()
        await pilot.pause()
        assert app.alerts.get(target).state is AlertState.ACKNOWLEDGED
        assert app.alerts.get(target).ack_comment == "power cut, utility informed"
        assert str(screen.table.get_cell(target, "state")) == "acked"
        assert screen.table.order[-1] == target  # acknowledged alerts sink below firing ones
        assert [e.target for e in ctl.audit if e.action == "ack"] == [target]


async def test_silence_from_the_feed_marks_alerts_silenced() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        target = app.alerts.get(screen.table.order[0])
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SilenceDialog)
        await pilot.press("enter", *"investigating", "enter")  # camera, default 1h
        await app.workers.wait_for_complete()
        app.drain()
        await pilot.pause()
        assert [(s.target_kind, s.target, s.end - s.start) for s in ctl.silences] == [
            ("camera", target.camera, 3600)
        ]
        assert str(screen.table.get_cell(target.id, "state")) == "silenced"


async def test_severity_filter_cycles() -> None:
    app, _bus, _ctl, states = sample.make_app(40)
    everything = len(sample.alerts_for(states))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        await pilot.press("f")
        assert {app.alerts.get(k).severity for k in screen.table.order} == {Severity.CRITICAL}
        await pilot.press("f")
        assert {app.alerts.get(k).severity for k in screen.table.order} == {Severity.WARNING}
        await pilot.press("f")
        assert len(screen.table.order) == everything


async def test_text_filter_by_site_and_escape() -> None:
    app, _bus, _ctl, states = sample.make_app(40)
    everything = len(sample.alerts_for(states))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        site = app.alerts.get(screen.table.order[0]).site
        await pilot.press("slash", *f"site:{site}", "enter")
        await pilot.pause()
        assert screen.table.order and all(
            app.alerts.get(k).site == site for k in screen.table.order
        )
        assert len(screen.table.order) < everything
        await pilot.press("escape")  # clears the filter first
        await pilot.pause()
        assert len(screen.table.order) == everything
        await pilot.press("escape")  # then goes back to the fleet
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


async def test_history_brings_resolved_alerts_from_control() -> None:
    app, _bus, ctl, states = sample.make_app(40)
    old = replace(
        sample.alerts_for(states)[0],
        id="cam-030:offline:1",
        camera="cam-030",
        state=AlertState.RESOLVED,
        raised=sample.EPOCH - 86400,
        updated=sample.EPOCH - 80000,
        resolved_at=sample.EPOCH - 80000,
    )
    ctl._store(old)  # in the store, never seen on the bus by this TUI
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        assert old.id not in screen.table.order
        await pilot.press("h")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert old.id in screen.table.order
        assert str(screen.table.get_cell(old.id, "state")) == "resolved"
        await pilot.press("h")  # back to live: old resolved alerts leave the feed
        await pilot.pause()
        assert old.id not in screen.table.order


async def test_enter_opens_the_alerts_camera() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await alerts_screen(app, pilot)
        camera = app.alerts.get(screen.table.order[1]).camera
        await pilot.press("j", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen) and app.screen.camera == camera
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
