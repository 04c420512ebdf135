"""Fleet screen, driven by Pilot against a LocalBus carrying real CameraState values."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace

from camwatch.tui import sample
from camwatch.tui.screens.camera import CameraScreen
from camwatch.tui.screens.fleet import GROUP_PREFIX, FleetScreen
from camwatch.tui.widgets.keybar import KeyBar
from camwatch.tui.widgets.status_table import StatusTable
from camwatch.tui.widgets.tiles import Tile, TileGrid
from textual.widgets import Input

from camwatch.alerts.model import AlertState
from camwatch.alerts.rules import RuleEngine
from camwatch.state import Condition, Severity, Status


def cell(table: StatusTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def ready(app, pilot) -> FleetScreen:  # type: ignore[no-untyped-def]
    await app.alerts_loaded.wait()
    await pilot.pause()
    assert isinstance(app.screen, FleetScreen)
    return app.screen


async def test_every_camera_is_a_row_sick_ones_first() -> None:
    app, _bus, _ctl, states = sample.make_app(40)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(app, pilot)
        order = screen.table.order
        assert sorted(order) == sorted(s.name for s in states)
        by_name = {s.name: s for s in states}
        sick = [
            n
            for n in order
            if by_name[n].status is not Status.LIVE or by_name[n].active_conditions()
        ]
        assert order[: len(sick)] == sick  # every sick camera above every healthy one
        first = by_name[order[0]]
        assert cell(screen.table, first.name, "state").startswith("✖ ")


async def test_header_counts_states_as_words() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        text = str(screen.query_one("#counts").render())
        assert text.startswith("35 live · ")
        assert "1 offline" in text and "1 auth failed" in text
        # cam-023 frozen; cam-003 defocus and cam-015 with a packet_loss alert
        assert "1 critical" in text and "2 warning" in text
        assert "5 alerts" in text


async def test_filter_reduces_rows_and_escape_restores_them() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("slash", *"site:harbour")
        await pilot.pause()
        order = screen.table.order
        assert 0 < len(order) < 40
        assert all(app.fleet.states[n].site == "harbour" for n in order)
        await pilot.press("enter")  # keeps the filter, back to the table
        assert screen.table.has_focus and len(screen.table.order) == len(order)
        await pilot.press("escape")
        await pilot.pause()
        assert len(screen.table.order) == 40


async def test_filter_by_state_word() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("slash", *"state:warn")
        await pilot.pause()
        assert screen.table.order == ["cam-003", "cam-015"]  # defocus; packet_loss alert
        screen.query_one(Input).value = "state:crit"
        await pilot.pause()
        assert screen.table.order == ["cam-023"]


async def test_bad_filter_field_is_reported_not_applied() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = "colour:red"  # as if pasted
        await pilot.pause()
        assert "unknown filter field 'colour'" in str(screen.query_one("#view").render())
        assert len(screen.table.order) == 40  # the last valid filter (none) stays


async def test_sort_cycles_columns_and_reverses() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        before = screen.table.order
        await pilot.press("s")  # state -> name
        await pilot.pause()
        assert screen.sort_column == "name"
        assert screen.table.order[:3] == ["cam-001", "cam-002", "cam-003"]
        assert screen.table.order != before
        await pilot.press("S")
        await pilot.pause()
        assert screen.table.order[:2] == ["cam-040", "cam-039"]
        assert screen.table.headers["name"] == "Camera ↓"


async def test_sort_by_fps_puts_the_slowest_first() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        screen.sort_by("fps")
        await pilot.pause()
        fps = [
            app.fleet.states[n].stats.fps if app.fleet.states[n].status is Status.LIVE else -1
            for n in screen.table.order
        ]
        assert fps == sorted(fps)


async def test_group_by_site_adds_headers_that_collapse() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("z")
        await pilot.pause()
        order = screen.table.order
        headers = [k for k in order if k.startswith(GROUP_PREFIX)]
        assert [h[len(GROUP_PREFIX) :] for h in headers] == sorted(sample.SITES)
        assert cell(screen.table, headers[0], "name") == "8 cameras"
        await pilot.press("g", "enter")  # collapse the first site
        await pilot.pause()
        assert len(screen.table.order) == len(order) - 8
        assert cell(screen.table, headers[0], "state").startswith("▸ ")


async def test_enter_opens_the_camera_and_escape_comes_back() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen)
        assert app.screen.camera == screen.table.order[2]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert screen.table.cursor_row == 2


async def test_vim_keys_move_the_cursor() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("G")
        assert screen.table.cursor_row == 39
        await pilot.press("k", "k")
        assert screen.table.cursor_row == 37
        await pilot.press("g")
        assert screen.table.cursor_row == 0


async def test_live_updates_change_only_the_changed_cells() -> None:
    app, bus, _ctl, states = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        table = screen.table
        target = next(s for s in states if s.name == "cam-001")
        assert cell(table, "cam-001", "state") == "● live"
        before = table.repaints
        down = replace(target, status=Status.OFFLINE, reason="no route to host")
        bus.publish(replace(target, stats=replace(target.stats, fps=3.0)))  # coalesced away
        bus.publish(down)
        app.drain()
        await pilot.pause()
        assert cell(table, "cam-001", "state") == "✖ offline"
        assert cell(table, "cam-001", "why") == "no route to host"
        assert table.repaints == before + 1  # one line repainted: cam-001's
        assert len(app.fleet.history["cam-001"]) == 2  # initial + latest, not the one in between
        # the offline camera moved up among the sick ones (sorted worst first)
        assert table.order.index("cam-001") < 5


async def test_timer_drains_the_bus_by_itself() -> None:
    app, bus, _ctl, states = sample.make_app(10, refresh_interval=0.05)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        frozen = Condition("frozen", True, 30.0, 15.0, "image unchanged 30 s", Severity.CRITICAL)
        bus.publish(replace(states[4], conditions=(frozen,)))
        for _ in range(50):
            await pilot.pause(0.02)
            if cell(screen.table, states[4].name, "state") == "◆ critical":
                break
        assert cell(screen.table, states[4].name, "state") == "◆ critical"
        assert cell(screen.table, states[4].name, "why") == "frozen"


async def test_mailbox_overflow_resynchronises_from_the_bus() -> None:
    app, bus, _ctl, states = sample.make_app(10, mailbox=4)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        for i in range(20):  # more than the mailbox holds
            bus.publish(replace(states[i % 10], stats=replace(states[i % 10].stats, fps=float(i))))
        app.drain()
        await pilot.pause()
        assert app.fleet.states == bus.states()
        assert cell(screen.table, states[9].name, "fps") == "19.0"


async def test_columns_drop_at_80_and_all_show_at_160() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        assert list(screen.table.columns) == ["state", "name", "since", "fps", "loss", "why"]
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert len(screen.table.columns) == 9
        assert len(screen.table.order) == 40


async def test_tiles_show_thumbnails_of_visible_cameras_and_audit_views() -> None:
    app, _bus, ctl, _states = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        await pilot.pause()
        grid = screen.query_one(TileGrid)
        shown = grid.visible_cameras()
        assert len(shown) == 6  # 3 x 2 tiles fit in 80x24
        assert shown == screen.table.order[:6]
        thumbs = [t.thumb for t in grid.tiles()]
        assert all(t is not None and t.cells is not None for t in thumbs)
        assert sorted(e.target for e in ctl.views()) == sorted(shown)
        # nothing changed: polling again redraws nothing and audits nothing new
        views = len(ctl.views())
        assert grid.poll_thumbnails() == 0
        assert len(ctl.views()) == views
        # a new frame for one visible camera redraws exactly that tile
        ctl.set_thumbnail(sample.frame(shown[1], at=sample.EPOCH + 5))
        assert grid.poll_thumbnails() == 1
        await pilot.press("right", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen) and app.screen.camera == shown[1]


async def test_tiles_page_with_the_selection() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        grid = screen.query_one(TileGrid)
        first_page = grid.visible_cameras()
        await pilot.press("pagedown")
        second = grid.visible_cameras()
        assert second == screen.table.order[6:12] and second != first_page
        assert grid.selected == second[0]


async def test_privacy_off_never_asks_for_an_image_and_shows_health_figures() -> None:
    app, _bus, ctl, _states = sample.make_app(40, thumbnails="off")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        grid = screen.query_one(TileGrid)
        tiles = [t for t in grid.query(Tile) if t.camera]
        assert tiles and all(t.thumb is None for t in tiles)
        figures = tiles[-1].figures_text
        assert "fps" in figures
        await pilot.press("enter")
        await pilot.pause()
        assert "image hidden (privacy)" in str(app.screen.query_one(".privacy").render())
        grid.poll_thumbnails()
        app.screen.poll_thumbnails()
        assert "hidden" in str(app.screen.query_one(".privacy").render())
    assert ctl.thumbnail_calls == 0
    assert ctl.views() == []


async def test_pixelate_shows_a_coarse_mosaic() -> None:
    app, _bus, _ctl, _states = sample.make_app(40, thumbnails="pixelate", pixel_blocks=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        await pilot.pause()
        thumb = app.screen.query_one(TileGrid).tiles()[0].thumb
        assert thumb is not None and thumb.cells is not None
        colours = {c for row in thumb.cells.rows for cell_ in row for c in cell_[1:] if c}
        assert 1 < len(colours) <= 4 * 3


async def test_quit_is_clean_and_unsubscribes() -> None:
    app, bus, *_ = sample.make_app(10)
    async with app.run_test() as pilot:
        await ready(app, pilot)
        assert len(bus._subs) == 1
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert bus._subs == []


async def test_hangup_signal_exits_cleanly() -> None:
    app, bus, *_ = sample.make_app(10)
    async with app.run_test() as pilot:
        await ready(app, pilot)
        assert app._hangup_installed
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if app.return_code is not None:
                break
    assert app.return_code == 129
    assert bus._subs == []
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


async def test_escape_while_typing_clears_the_filter() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test() as pilot:
        screen = await ready(app, pilot)
        await pilot.press("slash", *"harbour")
        await pilot.pause()
        assert len(screen.table.order) < 40
        await pilot.press("escape")
        await pilot.pause()
        assert len(screen.table.order) == 40
        assert screen.table.has_focus
        assert screen.query_one("#filter", Input).value == ""


async def test_mouse_header_click_sorts_and_row_click_opens() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        name_x = 15 + 2  # inside "Camera", after the 13-wide state column and padding
        await pilot.click(StatusTable, offset=(name_x, 0))
        await pilot.pause()
        assert screen.sort_column == "name"
        assert screen.table.order[0] == "cam-001"
        # the cursor stayed on the camera it was on (cam-032), now further down
        assert screen.table.selected_key == "cam-032"
        await pilot.press("g")
        await pilot.click(StatusTable, offset=(name_x, 3))  # third row: cursor moves
        await pilot.pause()
        assert screen.table.cursor_row == 2 and isinstance(app.screen, FleetScreen)
        await pilot.click(StatusTable, offset=(name_x, 3))  # again: opens it
        await pilot.pause()
        assert isinstance(app.screen, CameraScreen) and app.screen.camera == "cam-003"


async def test_key_bar_shows_the_focused_keys_and_clicks_run_them() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await ready(app, pilot)
        bar = screen.query_one(KeyBar)
        text = bar.text
        for shown in ("⏎ Open", "/ Filter", "t Tiles", "? Help", "q Quit"):
            assert shown in text
        assert "Up" not in text and "Reverse sort" not in text  # show=False stays hidden
        rebuilds = bar.rebuilds
        await pilot.press("j", "j", "k")
        assert bar.rebuilds == rebuilds  # moving the cursor changes no key
        x = text.index("t Tiles")
        await pilot.click(KeyBar, offset=(x + 1, 0))
        await pilot.pause()
        assert screen.tile_mode
        await pilot.press("enter")
        await pilot.pause()
        assert "z Zoom" in app.screen.query_one(KeyBar).text


async def test_showing_the_filter_leaves_the_table_size_alone() -> None:
    app, *_ = sample.make_app(40)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(app, pilot)
        size = screen.table.size
        await pilot.press("slash", "c")
        await pilot.pause()
        assert screen.query_one(Input).has_focus and screen.table.size == size


async def test_stream_rule_alert_shows_in_the_state_word_until_it_resolves() -> None:
    # Statistics rules (packet loss, jitter, low fps...) are not conditions of the state:
    # the state word must still say the camera is not simply live while one is open.
    app, bus, _ctl, states = sample.make_app(10)
    engine = RuleEngine()
    base = next(s for s in states if s.name == "cam-002")
    assert base.status is Status.LIVE and not base.active_conditions()
    t0 = base.updated
    settled = replace(base, since=t0 - 3600)  # live long enough for statistics rules
    lossy = replace(settled, stats=replace(settled.stats, loss_ratio=0.08))
    clean = replace(settled, stats=replace(settled.stats, loss_ratio=0.0))
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await ready(app, pilot)
        table = screen.table
        assert cell(table, "cam-002", "state") == "● live"

        raised = [e for t in (0, 10, 25) for e in engine.evaluate(lossy, t0 + t)]
        assert [(e.kind, e.alert.rule) for e in raised] == [("raised", "packet_loss")]
        for event in raised:
            bus.publish(event)
        bus.publish(lossy)
        app.drain()
        await pilot.pause()
        assert cell(table, "cam-002", "state") == "▲ warning"
        assert cell(table, "cam-002", "why") == "packet loss"
        assert table.order.index("cam-002") < table.order.index("cam-001")  # sick ones first
        counts = screen.query_one("#counts")
        assert str(counts.render()).startswith("8 live · 2 warning")  # with cam-003's defocus

        cleared = [e for t in (30, 50, 75) for e in engine.evaluate(clean, t0 + t)]
        assert [e.alert.state for e in cleared] == [AlertState.RESOLVED]
        for event in cleared:
            bus.publish(event)
        bus.publish(clean)
        app.drain()
        await pilot.pause()
        assert cell(table, "cam-002", "state") == "● live"
        assert cell(table, "cam-002", "why") == ""
        assert str(counts.render()).startswith("9 live · 1 warning")
