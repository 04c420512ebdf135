"""History store on real SQLite files: schema, batching, crash safety, full disk, retention."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from camwatch.alerts.model import Alert, AlertEvent, AlertState, Silence
from camwatch.state import CameraState, Severity, Status, StreamStats
from camwatch.store.db import Store, StoreError
from camwatch.store.migrations import LATEST_VERSION, SchemaError
from camwatch.store.rollup import HealthMinute, MinuteRollup

DAY = 86400.0


def alert(state: AlertState = AlertState.FIRING, updated: float = 10.0, **kw) -> Alert:
    base = dict(
        id="cam1:offline:10000",
        camera="cam1",
        rule="offline",
        severity=Severity.CRITICAL,
        state=state,
        reason="connection refused",
        started=0.0,
        raised=10.0,
        updated=updated,
        site="depot",
    )
    base.update(kw)
    return Alert(**base)


async def test_open_creates_wal_database_with_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "camwatch.db"
    store = await Store.open(path)
    await store.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "cameras",
        "alerts",
        "acknowledgements",
        "silences",
        "audit",
        "health_minute",
        "state_changes",
        "baselines",
    } <= tables
    con.close()
    # Reopening applies nothing and keeps data.
    store = await Store.open(path)
    store.put_audit("test", user="ann")
    await store.close()
    store = await Store.open(path, readonly=True)
    assert [e.user for e in await store.audit_log()] == ["ann"]
    await store.close()


async def test_synchronous_normal_on_the_writer(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "h.db")
    rows = await store._fetch("PRAGMA synchronous")
    assert rows[0][0] == 1  # NORMAL
    rows = await store._fetch("PRAGMA busy_timeout")
    assert rows[0][0] >= 1000
    await store.close()


async def test_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    con.close()
    with pytest.raises(SchemaError, match="newer than this camwatch"):
        await Store.open(path)


async def test_reader_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with pytest.raises(StoreError, match="no history database"):
        await Store.open(path, readonly=True)
    assert not path.exists()


async def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        await Store.open(path)


async def test_queued_writes_commit_in_one_transaction(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "h.db", flush_interval=3600)
    for i in range(1000):
        store.put_audit("load", f"t{i}", user="bench", at=float(i))
    assert store.stats.pending == 1000
    assert await store.audit_log(limit=5) == []  # nothing committed yet
    assert await store.flush() == 1000
    assert store.stats.flushes == 1 and store.stats.written == 1000
    assert len(await store.audit_log(limit=5000)) == 1000
    await store.close()


async def test_writer_task_flushes_by_itself(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "h.db", flush_interval=0.05)
    store.put_audit("auto", user="ann")
    for _ in range(100):
        await asyncio.sleep(0.02)
        if store.stats.written:
            break
    assert store.stats.written == 1
    await store.close()


async def test_alert_lifecycle_is_one_row_plus_ack_history(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "h.db")
    store.put_alert(AlertEvent("raised", alert(), 10.0))
    acked = alert(AlertState.ACKNOWLEDGED, 12.0, acked_by="ann", acked_at=12.0, ack_comment="ok")
    store.put_alert(AlertEvent("acknowledged", acked, 12.0))
    await store.flush()
    (open_alert,) = await store.open_alerts()
    assert open_alert == acked
    resolved = alert(
        AlertState.RESOLVED, 30.0, acked_by="ann", acked_at=12.0, ack_comment="ok", resolved_at=30.0
    )
    store.put_alert(AlertEvent("resolved", resolved, 30.0))
    # An out-of-order older update never overwrites a newer one.
    store.put_alert(AlertEvent("raised", alert(updated=10.0), 10.0))
    await store.flush()
    assert await store.open_alerts() == []
    assert await store.alerts(camera="cam1") == [resolved]
    acks = await store.acknowledgements(alert_id=resolved.id)
    assert [(a.user, a.comment, a.at) for a in acks] == [("ann", "ok", 12.0)]
    await store.close()


async def test_status_intervals_and_dangling_ones_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = await Store.open(path)
    store.put_camera("cam1", "depot", ("a", "b"), "rtsp://admin:secret@10.0.0.1/x", at=100)
    store.put_status("cam1", Status.LIVE, "", 100.0)
    store.put_status("cam1", Status.OFFLINE, "refused", 160.0)
    store.put_seen(["cam1"], 170.0)
    await store.flush()
    ivs = await store.intervals(0, 1000)
    assert [(i.status, i.start, i.end) for i in ivs] == [("live", 100, 160), ("offline", 160, None)]
    (cam,) = await store.cameras()
    assert cam.tags == ("a", "b") and "secret" not in cam.url and cam.last_seen == 170
    # Simulate a crash: the connection goes away without closing intervals.
    store._writer.cancel()
    await store._db.close()
    store = await Store.open(path)
    ivs = await store.intervals(0, 1000)
    assert ivs[-1].end == 170.0  # closed at the last heartbeat, not left open forever
    await store.close()


async def test_audit_log_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = await Store.open(path)
    store.put_audit("thumbnail_view", "camera:cam1", user="ann")
    await store.close()
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit SET user = 'mallory'")
    con.close()


async def test_silences_and_baselines_are_durable_and_audited(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = await Store.open(path)
    s = await store.add_silence(
        Silence(None, "site", "depot", 100.0, 200.0, "new switch", "ann", maintenance=True)
    )
    assert s.id == 1
    await store.save_baseline("cam1", b"\x00\x01" * 100, user="bob")
    assert await store.remove_silence(s.id, "carl", at=150.0)
    assert not await store.remove_silence(s.id, "carl", at=160.0)
    # Durable without close(): a second connection sees them at once.
    reader = await Store.open(path, readonly=True)
    (kept,) = await reader.silences()
    assert (kept.end, kept.maintenance, kept.author) == (150.0, True, "ann")
    assert await reader.load_baseline("cam1") == b"\x00\x01" * 100
    assert await reader.load_baseline("nope") is None
    actions = [(e.action, e.user) for e in await reader.audit_log()]
    assert sorted(actions) == [("baseline", "bob"), ("maintenance", "ann"), ("unsilence", "carl")]
    with pytest.raises(StoreError, match="read-only"):
        reader.put_audit("x")
    await reader.close()
    await store.close()


async def test_readers_work_while_the_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    writer = await Store.open(path, flush_interval=0.01)
    reader = await Store.open(path, readonly=True)
    seen = []
    for i in range(50):
        for j in range(200):
            writer.put_audit("load", f"{i}:{j}", user="bench", at=float(i))
        await asyncio.sleep(0.005)
        seen.append(len(await reader.audit_log(limit=100_000)))
    await writer.flush()
    assert seen == sorted(seen) and seen[-1] > 0  # reads never failed, history only grows
    assert len(await reader.audit_log(limit=100_000)) == 10_000
    await reader.close()
    await writer.close()


async def test_full_disk_is_reported_and_monitoring_continues(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(tmp_path / "h.db", flush_interval=3600, max_pending=300)
    await store._db.execute("PRAGMA max_page_count = 20")  # a tiny "disk"
    caplog.set_level(logging.ERROR, logger="camwatch.store")
    big = "x" * 2000
    for i in range(400):
        store.put_audit("load", f"{i}", big, user="bench")
        assert await store.flush() >= 0  # never raises
    stats = store.stats
    assert stats.disk_full and stats.failures > 0
    assert stats.pending == 300 and stats.dropped > 0  # bounded, oldest dropped
    full = [r for r in caplog.records if "is full" in r.getMessage()]
    assert len(full) == 1  # reported once, not once per attempt
    assert str(store.path) in full[0].getMessage()
    # Space comes back: buffered writes land.
    await store._db.execute("PRAGMA max_page_count = 1000000")
    assert await store.flush() == 300
    assert not store.stats.disk_full
    assert len(await store.audit_log(limit=10_000)) >= 300
    await store.close()


async def test_retention_deletes_only_old_history(tmp_path: Path) -> None:
    now = 100 * DAY
    store = await Store.open(tmp_path / "h.db", retention_days=30)
    old, new = now - 31 * DAY, now - 29 * DAY
    for t in (old, new):
        store.put_health([HealthMinute("cam1", int(t // 60 * 60), 60, 60, "live", 10, 25.0)])
        store.put_status("cam1", Status.LIVE, "", t)
        store.put_status("cam1", Status.OFFLINE, "", t + 60)
        store.put_alert(
            AlertEvent(
                "resolved",
                alert(AlertState.RESOLVED, t + 5, id=f"a{t}", raised=t, resolved_at=t + 5),
                t + 5,
            )
        )
        store.put_audit("ack", user="ann", at=t)
    store.put_audit("ack", user="ann", at=now - 400 * DAY)
    store.put_status("cam1", Status.OFFLINE, "", now - 10)
    await store.flush()
    deleted = await store.enforce_retention(now)
    assert deleted["health_minute"] == 1 and deleted["alerts"] == 1
    assert deleted["state_changes"] == 1  # the old closed interval; open ones never
    assert deleted["audit"] == 1  # audit keeps a year
    assert [h.minute for h in await store.health("cam1")] == [int(new // 60 * 60)]
    assert len(await store.audit_log()) == 2
    await store.close()


async def test_health_minutes_merge_when_written_twice(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "h.db")
    store.put_health([HealthMinute("cam1", 600, 20.0, 20.0, "live", 2, fps=20.0)])
    store.put_health([HealthMinute("cam1", 600, 30.0, 10.0, "offline", 2, fps=10.0)])
    await store.flush()
    (m,) = await store.health("cam1")
    assert (m.observed_s, m.live_s, m.samples, m.status) == (50.0, 30.0, 4, "offline")
    assert m.fps == pytest.approx(15.0)
    await store.close()


# -- kill -9 -------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from camwatch.store.db import Store

    async def main():
        store = await Store.open(sys.argv[1], flush_interval=3600)
        i = int(sys.argv[2])
        while True:
            for _ in range(500):
                store.put_audit("load", f"t{i}", "x" * 300, user="bench", at=float(i))
                store.put_status("cam%d" % (i % 50), "live" if i % 2 else "offline", "", float(i))
                i += 1
            await store.flush()
            print(i, flush=True)  # only after COMMIT returned

    asyncio.run(main())
    """
)


def _kill_writer_mid_write(path: Path, start: int, batches: int) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    committed = start
    try:
        assert proc.stdout is not None
        for _ in range(batches):
            line = proc.stdout.readline()
            assert line, "writer died on its own"
            committed = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # while it is writing the next batch
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return committed


async def test_kill_9_mid_write_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    committed = 0
    for batches in (5, 12, 3):
        committed = _kill_writer_mid_write(path, committed, batches)
        store = await Store.open(path)  # recovers the WAL
        assert await store.integrity_check() == "ok"
        rows = await store._fetch("SELECT count(*), max(at) FROM audit")
        count, last = rows[0]
        # Every committed batch is there; an interrupted one is all-or-nothing.
        assert count >= committed and count % 500 == 0
        # Both tables of a batch commit together, never one without the other.
        assert await store._fetch("SELECT count(*) FROM state_changes") == [(count,)]
        committed = int(last) + 1
        await store.close()


# -- rollup ----------------------------------------------------------------------------


def cs(status: Status, fps: float = 25.0, name: str = "cam1", reconnects: int = 0) -> CameraState:
    return CameraState(
        name, "rtsp://x/", status=status, stats=StreamStats(fps=fps), reconnects=reconnects
    )


def test_rollup_splits_time_at_minute_boundaries() -> None:
    r = MinuteRollup()
    done = []
    for t in range(60, 90):  # live 60..90
        done += r.add(cs(Status.LIVE, fps=20.0 + (t % 2) * 10), t)
    for t in range(90, 135):  # offline 90..135
        done += r.add(cs(Status.OFFLINE, fps=0.0, reconnects=2), t)
    (m,) = done
    assert m.minute == 60 and m.observed_s == pytest.approx(60.0)
    assert m.live_s == pytest.approx(30.0)
    assert m.fps == pytest.approx(25.0)  # live samples only
    assert m.samples == 30 and m.status == "offline" and m.reconnects == 2
    (m2,) = r.tick(185.0)  # no states since 134: credited up to the gap limit
    assert m2.minute == 120 and m2.observed_s == pytest.approx(60.0) and m2.live_s == 0
    assert m2.fps is None


def test_rollup_does_not_credit_long_silences() -> None:
    r = MinuteRollup()
    r.add(cs(Status.LIVE), 0.0)
    done = r.tick(1000.0)
    assert sum(m.observed_s for m in done) == pytest.approx(120.0)  # MAX_GAP_S, not 1000
    assert r.flush(1000.0) == []
