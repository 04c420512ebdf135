"""The monitor end to end: LocalBus -> rules -> real SQLite store and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import getpass
import logging
import time
from pathlib import Path

import pytest
from test_notify import Receiver, until

from camwatch.alerts.model import AlertEvent, AlertState, Silence
from camwatch.alerts.notify import Notifier
from camwatch.alerts.rules import RuleEngine
from camwatch.bus import LocalBus
from camwatch.monitor import Monitor
from camwatch.state import CameraState, Status, StreamStats
from camwatch.store.db import Store

FAST_RULES = {"offline": {"raise_after": 0.5, "clear_after": 0.3}}  # the 0.1 s blip: 5x margin
FAST_NOTIFY = {"backoff": 0.05, "digest_window": 0}


def cam(status: Status, since: float, name: str = "cam1") -> CameraState:
    return CameraState(
        name,
        "rtsp://admin:secret@10.0.0.9/live",
        site="depot",
        tags=("gate",),
        status=status,
        reason="connection refused" if status is Status.OFFLINE else "",
        since=since,
        stats=StreamStats(fps=25.0),
    )


async def play(bus: LocalBus, script: list[tuple[Status, float]], name: str = "cam1") -> None:
    """Publish a state every 50 ms: each (status, seconds) in turn."""
    for status, seconds in script:
        since = time.time()
        for _ in range(int(seconds / 0.05)):
            bus.publish(cam(status, since, name))
            await asyncio.sleep(0.05)


async def setup(tmp_path: Path, rx: Receiver) -> tuple[LocalBus, Monitor, Store]:
    bus = LocalBus()
    store = await Store.open(tmp_path / "h.db", flush_interval=0.1)
    notifier = Notifier({"webhooks": [rx.url], **FAST_NOTIFY})
    monitor = Monitor(bus, RuleEngine(FAST_RULES), store, notifier, tick_interval=0.05)
    await monitor.start()
    return bus, monitor, store


async def test_fault_injected_and_cleared_notifies_once_each_way(tmp_path: Path) -> None:
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        seen = bus.subscribe()
        # A 0.1 s blip first: it must page nobody.
        script = [
            (Status.LIVE, 0.3),
            (Status.OFFLINE, 0.1),
            (Status.LIVE, 0.5),
            (Status.OFFLINE, 1.0),
            (Status.LIVE, 1.0),
        ]
        await play(bus, script)
        assert await until(lambda: len(rx.bodies) >= 2, 5)
        await asyncio.sleep(0.3)
        await monitor.stop()
        await store.close()
    assert [(b["event"], b["alert"]["camera"], b["alert"]["rule"]) for b in rx.bodies] == [
        ("raised", "cam1", "offline"),
        ("resolved", "cam1", "offline"),
    ]
    events = [m for m in seen.get_nowait() if isinstance(m, AlertEvent)]
    assert [e.kind for e in events] == ["raised", "resolved"]  # published back on the bus
    reader = await Store.open(tmp_path / "h.db", readonly=True)
    (row,) = await reader.alerts()
    assert row.state is AlertState.RESOLVED and row.rule == "offline" and not row.silenced
    statuses = [iv.status for iv in await reader.intervals(0, time.time() + 10)]
    assert statuses == ["live", "offline", "live", "offline", "live"]
    (camera,) = await reader.cameras()
    assert camera.site == "depot" and "secret" not in camera.url
    assert await reader.health("cam1")  # the partial minute was rolled up at stop
    await reader.close()


async def test_silence_suppresses_the_notification_but_the_alert_is_recorded(
    tmp_path: Path,
) -> None:
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        now = time.time()
        sil = await monitor.silence(
            Silence(None, "tag", "gate", now - 1, now + 60, "replacing the switch", "")
        )
        assert sil.id is not None and sil.author == getpass.getuser()
        seen = bus.subscribe()
        await play(bus, [(Status.LIVE, 0.2), (Status.OFFLINE, 0.8), (Status.LIVE, 0.8)])
        kinds = [m.kind for m in seen.get_nowait() if isinstance(m, AlertEvent)]
        assert kinds == ["raised", "resolved"]
        await asyncio.sleep(0.2)
        await monitor.stop()
        await store.close()
    assert rx.bodies == [] and rx.requests == []
    assert monitor.notifier is not None and monitor.notifier.stats.suppressed == 2
    reader = await Store.open(tmp_path / "h.db", readonly=True)
    (row,) = await reader.alerts()
    assert row.silenced and row.state is AlertState.RESOLVED
    (audit,) = await reader.audit_log()
    assert (audit.action, audit.user, audit.target) == ("silence", getpass.getuser(), "tag:gate")
    await reader.close()


async def test_ack_is_recorded_audited_and_published(tmp_path: Path) -> None:
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        seen = bus.subscribe()
        task = asyncio.create_task(play(bus, [(Status.OFFLINE, 1.0)]))
        assert await until(lambda: monitor.engine.alerts(), 5)
        (alert,) = monitor.engine.alerts()
        event = monitor.ack(alert.id, comment="技师 on the way")
        assert event.alert.acked_by == getpass.getuser()
        await task
        await monitor.stop()
        await store.close()
    assert "acknowledged" in [m.kind for m in seen.get_nowait() if isinstance(m, AlertEvent)]
    reader = await Store.open(tmp_path / "h.db", readonly=True)
    (ack,) = await reader.acknowledgements()
    assert (ack.alert_id, ack.user, ack.comment) == (alert.id, getpass.getuser(), "技师 on the way")
    (row,) = await reader.open_alerts()
    assert row.state is AlertState.ACKNOWLEDGED
    assert [(e.action, e.target) for e in await reader.audit_log()] == [
        ("ack", f"alert:{alert.id}")
    ]
    await reader.close()


async def test_restart_restores_open_alerts_without_notifying_again(tmp_path: Path) -> None:
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        await play(bus, [(Status.OFFLINE, 0.6)])
        assert await until(lambda: len(rx.bodies) == 1, 5)
        await monitor.stop()
        # The daemon restarts: a new engine and monitor on the same database.
        monitor = Monitor(
            bus,
            RuleEngine(FAST_RULES),
            store,
            Notifier({"webhooks": [rx.url], **FAST_NOTIFY}),
            tick_interval=0.05,
        )
        await monitor.start()
        assert len(monitor.engine.alerts()) == 1
        await play(bus, [(Status.OFFLINE, 0.6), (Status.LIVE, 0.6)])
        assert await until(lambda: len(rx.bodies) == 2, 5)
        await monitor.stop()
        await store.close()
    assert [b["event"] for b in rx.bodies] == ["raised", "resolved"]
    assert rx.bodies[0]["alert"]["id"] == rx.bodies[1]["alert"]["id"]


async def test_a_malformed_state_never_stops_monitoring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="camwatch.monitor")
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        since = time.time() - 100
        bus.publish(CameraState("bad", "rtsp://x/", status=Status.LIVE, since=since, stats=None))  # type: ignore[arg-type]
        await play(bus, [(Status.OFFLINE, 0.6)])
        assert await until(lambda: len(rx.bodies) == 1, 5)
        await monitor.stop()
        await store.close()
    assert monitor.stats.errors == 2  # judging it and recording it both failed, cleanly
    assert any("bad" in r.getMessage() for r in caplog.records)


async def test_minute_rollups_reach_the_store(tmp_path: Path) -> None:
    clock = [6000.0]
    bus = LocalBus()
    store = await Store.open(tmp_path / "h.db", flush_interval=3600)
    monitor = Monitor(bus, RuleEngine(), store, None, tick_interval=3600, clock=lambda: clock[0])
    await monitor.start()
    for i in range(150):  # 2.5 minutes, one state a second: 90 s live, then offline
        clock[0] = 6000.0 + i
        status = Status.LIVE if i < 90 else Status.OFFLINE
        bus.publish(cam(status, 6000.0 if i < 90 else 6090.0))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    await monitor.stop()
    minutes = await store.health("cam1")
    await store.close()
    assert [(m.minute, m.observed_s, m.live_s) for m in minutes] == [
        (6000, 60.0, 60.0),
        (6060, 60.0, 30.0),
        (6120, 29.0, 0.0),
    ]
    assert minutes[0].fps == 25.0 and minutes[2].fps is None


async def test_silences_are_published_for_other_front_ends(tmp_path: Path) -> None:
    with Receiver() as rx:
        bus, monitor, store = await setup(tmp_path, rx)
        seen = bus.subscribe()
        now = time.time()
        window = Silence(None, "site", "depot", now, now + 3600, "new NVR", "", maintenance=True)
        added = await monitor.silence(window)
        assert await monitor.unsilence(added.id or 0)
        assert not await monitor.unsilence(999)
        await monitor.stop()
        await store.close()
    published = [m for m in seen.get_nowait() if isinstance(m, Silence)]
    assert [(s.id, s.maintenance) for s in published] == [(added.id, True), (added.id, True)]
    assert published[0].end == now + 3600 and published[1].end <= time.time()
    reader = await Store.open(tmp_path / "h.db", readonly=True)
    actions = sorted(e.action for e in await reader.audit_log())
    assert actions == ["maintenance", "unsilence"]
    await reader.close()


def test_inventory_sections_drive_the_engine_and_the_notifier(tmp_path: Path) -> None:
    from camwatch.config import parse_inventory

    text = """
[[camera]]
name = "gate"
url = "rtsp://10.0.0.2/live"
site = "depot"
tags = ["outdoor"]
thresholds = { packet_loss = 0.07, min_fps = 4 }

[rules.offline]
raise_after = 30
[rules.sites.depot]
jitter = 80
[rules.tags.outdoor]
low_light = { enabled = false }

[notify]
webhooks = [{ url = "http://127.0.0.1:9/hook" }]
command = ["/bin/true"]
min_interval = 120
max_per_hour = 20
digest_after = 4
digest_window = 15
"""
    path = tmp_path / "cameras.toml"
    inv = parse_inventory(text, path, env={})
    engine = RuleEngine(inv.sections["rules"], inv.cameras)
    specs = engine.specs_for("gate")
    assert specs["offline"].raise_after == 30 and specs["jitter"].threshold == 80
    assert specs["packet_loss"].threshold == 0.07 and specs["low_fps"].min_fps == 4
    assert not specs["low_light"].enabled
    cfg = Notifier(inv.sections["notify"]).config
    assert (cfg.min_interval, cfg.max_per_hour, cfg.digest_after, cfg.digest_window) == (
        120,
        20,
        4,
        15,
    )
    assert cfg.webhooks[0].url == "http://127.0.0.1:9/hook" and cfg.command == ("/bin/true",)


async def test_reload_ends_removed_cameras_and_is_audited(tmp_path: Path) -> None:
    from dataclasses import dataclass

    @dataclass
    class Cam:
        name: str
        site: str = "depot"
        tags: tuple[str, ...] = ()

    clock = [5000.0]
    bus = LocalBus()
    store = await Store.open(tmp_path / "h.db", flush_interval=3600)
    engine = RuleEngine({}, [Cam("cam1"), Cam("cam2")])
    monitor = Monitor(bus, engine, store, None, tick_interval=3600, clock=lambda: clock[0])
    await monitor.start()
    for t in range(15):
        clock[0] = 5000.0 + t
        bus.publish(cam(Status.OFFLINE, 5000.0, "cam1"))
        bus.publish(cam(Status.LIVE, 5000.0, "cam2"))
        await asyncio.sleep(0)
    assert [a.camera for a in engine.alerts()] == ["cam1"]
    clock[0] = 5020.0
    monitor.reload({"jitter": 99}, [Cam("cam2")], user="ops")
    assert engine.alerts() == () and engine.specs_for("cam2")["jitter"].threshold == 99
    await monitor.stop()
    ivs = [(i.camera, i.status, i.start, i.end) for i in await store.intervals(0, 1e10)]
    (alert,) = await store.alerts()
    (audit,) = await store.audit_log()
    await store.close()
    assert ("cam1", "stopped", 5020.0, 5020.0) in ivs  # history ends at the reload
    assert ("cam2", "live", 5000.0, 5020.0) in ivs  # still monitored until stop
    assert alert.state is AlertState.RESOLVED and "removed" in alert.reason
    assert (audit.action, audit.user) == ("config_reload", "ops")
