"""Camera screen: figures, checks against thresholds, recent alerts and the three actions."""

from __future__ import annotations

from dataclasses import replace

from camwatch.tui import sample
from camwatch.tui.screens.camera import CameraScreen
from camwatch.tui.screens.dialogs import AckDialog, ConfirmDialog, SilenceDialog
from camwatch.tui.widgets.metrics import MetricsPanel
from camwatch.tui.widgets.status_table import StatusTable
from camwatch.tui.widgets.thumbnail import Thumbnail
from textual.widgets import Input, Static

from camwatch.alerts.model import AlertState
from camwatch.analysis import KINDS
from camwatch.state import Status, StatusChanged


async def open_camera(app, pilot, name: str) -> CameraScreen:  # type: ignore[no-untyped-def]
    await app.alerts_loaded.wait()
    await pilot.pause()
    app.open_camera(name)
    await pilot.pause()
    assert isinstance(app.screen, CameraScreen)
    return app.screen


def text(screen: CameraScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_camera_shows_figures_checks_and_alerts() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-003")  # defocus warning
        assert "cam-003" in text(screen, "#topbar") and "▲ warning" in text(screen, "#topbar")
        values = screen.query_one(MetricsPanel).values
        assert values["sharpness"] == "31%"  # analysis.sharpness_pct, % of the baseline
        state = app.fleet.states["cam-003"]
        assert values["motion"] == f"{state.motion_level:.3g}"
        checks = screen.query_one("#checks", StatusTable)
        assert checks.order[0] == "defocus"  # firing checks first
        assert sorted(checks.order) == sorted(KINDS)
        assert str(checks.get_cell("defocus", "state")) == "▲ firing"
        assert str(checks.get_cell("defocus", "value")) == "31%"
        assert str(checks.get_cell("defocus", "threshold")) == "< 50%"
        assert str(checks.get_cell("frozen", "state")) == "● ok"
        assert str(checks.get_cell("frozen", "threshold")) == "≥ 85%"
        alerts = screen.query_one("#alerts", StatusTable)
        assert len(alerts.order) == 1 and str(alerts.get_cell(alerts.order[0], "state")) == "firing"
        assert "rtsp://viewer:***@" in text(screen, "#info")


async def test_camera_without_baseline_or_analysis() -> None:
    app, bus, _ctl, _states = sample.make_app(10)
    async with app.run_test(size=(100, 32)) as pilot:
        bus.publish(sample.camera("cam-new", sharpness=None, loss=0.062))
        bus.publish(sample.camera("cam-dark", status=Status.OFFLINE, motion=None))
        app.drain()
        screen = await open_camera(app, pilot, "cam-new")
        values = screen.query_one(MetricsPanel).values
        assert values["sharpness"] == "-" and values["loss"] == "6.2%"
        checks = screen.query_one("#checks", StatusTable)
        assert str(checks.get_cell("defocus", "value")) == "-"
        app.open_camera("cam-dark")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one(MetricsPanel).values["motion"] == "-"
        assert screen.query_one("#checks", StatusTable).order == ["-"]


async def test_sparklines_follow_the_state_history() -> None:
    app, bus, _ctl, states = sample.make_app(10)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-001")
        base = next(s for s in states if s.name == "cam-001")
        for i, fps in enumerate((20.0, 10.0, 25.0)):
            bus.publish(replace(base, stats=replace(base.stats, fps=fps), updated=base.updated + i))
            app.drain()
        await pilot.pause()
        panel = screen.query_one(MetricsPanel)
        assert panel.series["fps"] == [base.stats.fps, 20.0, 10.0, 25.0]
        assert panel.values["fps"] == "25.0"
        fps_line = str(panel.render()).splitlines()[0]
        assert fps_line.split()[:2] == ["fps", "25.0"]
        assert fps_line.endswith("▁█") and len(fps_line.split()[-1]) == 4


async def test_ack_with_comment_goes_through_control_and_shows_acknowledged() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-003")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AckDialog)
        await pilot.press(*"ticket 4711", "enter")
        await app.workers.wait_for_complete()
        app.drain()
        await pilot.pause()
        assert app.screen is screen
        acks = [e for e in ctl.audit if e.action == "ack"]
        assert [(e.user, e.detail) for e in acks] == [("tester", "ticket 4711")]
        alert = app.alerts.get(acks[0].target)
        assert alert is not None and alert.state is AlertState.ACKNOWLEDGED
        alerts = screen.query_one("#alerts", StatusTable)
        assert str(alerts.get_cell(alert.id, "state")) == "acked"
        # nothing left to acknowledge: a clear message, no dialog
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is screen


async def test_cancelled_ack_does_nothing() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-003")
        await pilot.press("a", "escape")
        await pilot.pause()
        assert app.screen is screen
        assert [e for e in ctl.audit if e.action == "ack"] == []


async def test_silence_site_for_two_hours() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        await open_camera(app, pilot, "cam-003")
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SilenceDialog)
        dialog.query_one("#target").value = 1  # site
        dialog.query_one("#duration", Input).value = ""
        await pilot.press(*"2h", "enter", *"mast work", "enter")
        await app.workers.wait_for_complete()
        assert len(ctl.silences) == 1
        s = ctl.silences[0]
        assert (s.target_kind, s.target, s.end - s.start, s.reason, s.author) == (
            "site",
            app.fleet.states["cam-003"].site,
            7200,
            "mast work",
            "tester",
        )


async def test_silence_rejects_an_unreadable_duration() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        await open_camera(app, pilot, "cam-003")
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one("#duration", Input).value = "soon"
        dialog.query_one("#reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "cannot read duration 'soon'" in str(dialog.query_one("#error", Static).render())
        assert ctl.silences == []


async def test_capture_baseline_asks_first() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        await open_camera(app, pilot, "cam-007")
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause()
        assert ctl.baselines == []
        await pilot.press("b", "y")
        await app.workers.wait_for_complete()
        assert ctl.baselines == [("cam-007", "tester", sample.EPOCH)]


async def test_control_errors_are_shown_not_raised() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await open_camera(app, pilot, "cam-003")
        alert = app.alerts.firing()[0]
        await ctl.acknowledge(alert.id, "someone", "")
        ctl.resolve_alert(alert.id)
        app.acknowledge(alert.id, "late")  # the TUI had not seen the resolve yet
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("already resolved" in m for m in messages)
        assert isinstance(app.screen, CameraScreen)


async def test_image_is_drawn_and_the_view_audited_once() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-010")
        thumb = screen.query_one(Thumbnail)
        assert thumb.cells is not None and thumb.cells.height > 3
        screen.poll_thumbnails()
        screen.poll_thumbnails()
        assert [e.target for e in ctl.views()] == ["cam-010"]
        assert thumb.redraws == 1


async def test_reopening_reuses_the_screen_and_audits_every_view() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(100, 32)) as pilot:
        first = await open_camera(app, pilot, "cam-003")
        checks = first.query_one("#checks", StatusTable)
        await pilot.press("down", "down")
        assert checks.cursor_row == 2
        await pilot.press("escape")
        await pilot.pause()
        second = await open_camera(app, pilot, "cam-010")
        assert second is first  # the same widgets, pointed at another camera
        assert "cam-010" in text(second, "#topbar") and "cam-003" not in text(second, "#topbar")
        assert checks.cursor_row == 0 and checks.has_focus
        assert second.query_one(Thumbnail).view.camera == "cam-010"
        await pilot.press("escape")
        await pilot.pause()
        await open_camera(app, pilot, "cam-010")  # the same camera again: a new view
        app.open_camera("cam-003")  # from the palette while on a camera screen
        await pilot.pause()
        assert "cam-003" in text(second, "#topbar") and len(app.screen_stack) == 2
        assert [e.target for e in ctl.views()] == ["cam-003", "cam-010", "cam-010", "cam-003"]


async def test_camera_that_goes_offline_updates_in_place() -> None:
    app, bus, _ctl, states = sample.make_app(10)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-002")
        base = next(s for s in states if s.name == "cam-002")
        bus.publish(replace(base, status=Status.OFFLINE, reason="connection refused"))
        app.drain()
        await pilot.pause()
        assert "✖ offline" in text(screen, "#topbar")
        assert "connection refused" in text(screen, "#info")


async def test_status_changes_are_listed_as_events() -> None:
    app, bus, _ctl, _states = sample.make_app(10)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_camera(app, pilot, "cam-002")
        at = sample.EPOCH - 120
        bus.publish(StatusChanged("cam-002", Status.LIVE, Status.STALLED, "no frames 10 s", at))
        bus.publish(StatusChanged("cam-005", Status.LIVE, Status.OFFLINE, "elsewhere", at))
        app.drain()
        await pilot.pause()
        table = screen.query_one("#alerts", StatusTable)
        events = [k for k in table.order if table.get_cell(k, "sev") == "· event"]
        assert len(events) == 1
        assert table.get_cell(events[0], "rule") == "live → stalled"
        assert table.get_cell(events[0], "age") == "2m"
        assert table.get_cell(events[0], "reason") == "no frames 10 s"
