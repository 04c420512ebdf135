"""The fleet's own health on the fleet screen: Pilot against a LocalBus carrying FleetHealth."""

from __future__ import annotations

from dataclasses import replace

import pytest
from camwatch.themes import BUILTIN_THEMES
from camwatch.tui import sample
from camwatch.tui.app import RECOVERED
from camwatch.tui.screens.fleet import FleetScreen
from camwatch.tui.screens.help import HelpScreen
from camwatch.tui.widgets.health import HealthLine
from conftest import CALM_FLEET
from rich.segment import Segment
from textual.color import Color
from textual.geometry import Region

from camwatch.decode import PoolFigures
from camwatch.fleethealth import FleetHealth, HealthMeter

CALM = replace(
    CALM_FLEET, at=sample.EPOCH, cameras=40, live=38, sample_interval_s=4.04, samples_per_s=9.5,
    decode_cpu_pct=19.4, decode_wait_ms=3.0, loop_lag_p50_ms=2.0, loop_lag_p99_ms=8.2, shards=2,
)  # fmt: skip


def pool(cpu_s: float, completed: int) -> PoolFigures:
    return PoolFigures(completed, 0, 0, 0, 0, 0, cpu_s, 0.0, 0.0, 1.0)


def overloaded() -> FleetHealth:
    """What the core's meter says of 40 cameras sampled every 6.2 s instead of 4.0 s
    while decoding used its whole budget of one core for a minute."""
    meter = HealthMeter()
    periods = [(6.2, 4.0)] * 40
    meter.measure(cameras=40, live=40, periods=periods, pool=pool(0, 0), lag=(1, 9), now=0)
    health = meter.measure(
        cameras=40, live=40, periods=periods, pool=pool(60.0, 390), lag=(2, 40), now=60
    )
    assert health.overloaded
    return health


async def ready(app, pilot) -> FleetScreen:  # type: ignore[no-untyped-def]
    await app.alerts_loaded.wait()
    await pilot.pause()
    assert isinstance(app.screen, FleetScreen)
    return app.screen


async def deliver(app, pilot, bus, *messages: object) -> None:  # type: ignore[no-untyped-def]
    for message in messages:
        bus.publish(message)
    app.drain()
    await pilot.pause()


def cells(line: HealthLine) -> list[Segment]:
    """The line's segments as the terminal gets them (padding included)."""
    region = line.region
    strips = line.render_lines(Region(0, 0, region.width, region.height))
    return [seg for strip in strips for seg in strip]


def rendered(line: HealthLine) -> str:
    return "".join(seg.text for seg in cells(line))


def toasts(app, severity: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications if n.severity == severity]


async def test_no_line_before_any_fleet_health() -> None:
    app, bus, _ctl, states = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, replace(states[0], updated=sample.EPOCH + 1))
        assert app.fleet.health is None
        assert not screen.health.display
        assert screen.health.region.height == 0
        assert screen.table.region.bottom == 23  # the table reaches the key bar


async def test_line_shows_the_figures_above_the_key_bar() -> None:
    app, bus, *_ = sample.make_app(40)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, CALM)
        line = screen.health
        assert app.fleet.health is CALM
        assert line.region == Region(0, 22, 80, 1)  # row 23 of 24, the key bar under it
        assert screen.table.region.bottom == 22
        text = "on schedule, every 4.0 s · decode 19% of a core · loop lag 8 ms · 2 shards"
        assert rendered(line).strip() == text
        assert not line.has_class("-overloaded")
        assert toasts(app, "warning") == toasts(app, "information") == []  # calm: no toast

        sparse = replace(CALM, sample_interval_s=None, loop_lag_p99_ms=1234.0, shards=1)
        await deliver(app, pilot, bus, sparse)
        assert rendered(line).strip() == "decode 19% of a core · loop lag 1.2 s"


async def test_same_figures_are_not_repainted() -> None:
    app, bus, *_ = sample.make_app(10)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, CALM)
        paints = screen.health.paints
        for i in range(1, 4):  # a new report every 5 s, reading the same
            await deliver(app, pilot, bus, replace(CALM, at=CALM.at + 5 * i, samples_per_s=9.0))
        assert screen.health.paints == paints == 1
        await deliver(app, pilot, bus, replace(CALM, decode_cpu_pct=55.0))
        assert screen.health.paints == 2


async def test_overload_reads_the_reason_warns_once_and_recovery_once() -> None:
    app, bus, *_ = sample.make_app(40)
    async with app.run_test(size=(160, 30), notifications=True) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, CALM)
        hot = overloaded()
        await deliver(app, pilot, bus, hot)
        line = screen.health
        want = (
            "OVERLOADED: sampling every 6.2 s instead of 4.0 s: "
            "decode budget of 100% of a core exhausted"
        )
        assert rendered(line).strip() == want
        assert line.has_class("-overloaded")
        assert line.styles.background == Color.parse(app.theme_variables["warning"])
        for i in range(1, 4):  # still overloaded, figures moving
            worse = replace(hot, at=hot.at + 5 * i, loop_lag_p99_ms=40.0 + i)
            await deliver(app, pilot, bus, worse)
        assert toasts(app, "warning") == [hot.reason]
        assert toasts(app, "information") == []

        await deliver(app, pilot, bus, CALM, replace(CALM, at=CALM.at + 5))
        await deliver(app, pilot, bus, replace(CALM, at=CALM.at + 10))
        assert toasts(app, "information") == [RECOVERED]
        assert toasts(app, "warning") == [hot.reason]
        assert not line.has_class("-overloaded")
        assert rendered(line).strip().startswith("on schedule, every 4.0 s")


async def test_a_first_report_already_overloaded_warns() -> None:
    app, bus, *_ = sample.make_app(10)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(app, pilot)
        await deliver(app, pilot, bus, overloaded())
        assert len(toasts(app, "warning")) == 1
        assert toasts(app, "information") == []


async def test_overload_line_fits_80_columns() -> None:
    app, bus, *_ = sample.make_app(40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, overloaded())
        line = screen.health
        text = rendered(line)
        assert line.region == Region(0, 22, 80, 1)  # one row, not wrapped
        assert len(text) == 80
        assert text.startswith(" OVERLOADED: sampling every 6.2 s instead of 4.0 s")
        assert text.rstrip().endswith("…")  # cut with an ellipsis, not mid-air
        assert line.tooltip == f"OVERLOADED: {overloaded().reason}"  # the whole of it


@pytest.mark.parametrize("theme", sorted(BUILTIN_THEMES))
async def test_line_is_readable_in_every_theme(theme: str) -> None:
    app, bus, *_ = sample.make_app(10, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(app, pilot)
        await deliver(app, pilot, bus, CALM)
        line = screen.health
        calm_bg = line.styles.background
        await deliver(app, pilot, bus, overloaded())
        warning = Color.parse(app.theme_variables["warning"])
        assert line.styles.background == warning != calm_bg
        words = max(cells(line), key=lambda seg: len(seg.text))
        assert words.text.startswith("OVERLOADED") and words.style is not None
        assert Color.from_rich_color(words.style.bgcolor) == warning
        # Text on the warning colour keeps its contrast (Textual's auto colour picks it).
        fg = Color.from_rich_color(words.style.color)
        assert abs(fg.brightness - warning.brightness) > 0.4
        assert words.style.bold


async def test_help_explains_the_line_once_it_is_shown() -> None:
    app, bus, *_ = sample.make_app(10)
    async with app.run_test(size=(80, 40)) as pilot:
        await ready(app, pilot)

        async def sections() -> list[str]:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            found = [str(s.render()) for s in app.screen.query(".section")]
            await pilot.press("escape")
            await pilot.pause()
            return found

        assert "Fleet health" not in await sections()
        await deliver(app, pilot, bus, CALM)
        assert "Fleet health" in await sections()
