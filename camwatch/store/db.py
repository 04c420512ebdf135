"""The history database: one SQLite file written by the daemon, read by everyone.

Usage (all methods are coroutines unless marked "queued"):

    store = await Store.open(path)                 # creates, migrates, starts the writer
    store.put_camera(name, site, tags, url)        # queued
    store.put_alert(event)                         # queued: upsert of the alert (+ ack row)
    store.put_status(camera, status, reason, t)    # queued: closes the open interval, opens one
    store.put_health(minutes)                      # queued: per-minute rollups (merged on conflict)
    store.put_seen(cameras, t)                     # queued: heartbeat (ends intervals on crash)
    store.put_audit(action, target, detail, user)  # queued: append-only audit log
    await store.add_silence(s) -> Silence          # durable on return, with its id
    await store.remove_silence(id, user)
    await store.save_baseline(camera, blob) / load_baseline(camera)
    await store.alerts(...), open_alerts(), acknowledgements(...), silences(...),
          audit_log(...), health(...), intervals(...), cameras()
    await store.enforce_retention()                # the daemon calls it e.g. hourly
    await store.flush(); await store.close()
    reader = await Store.open(path, readonly=True) # TUI, `camwatch report`: never writes

Durability: WAL journal with synchronous=NORMAL. A transaction is durable
once COMMIT returns as far as the *process* is concerned: the WAL frames are in
the OS page cache, so `kill -9` of the daemon loses nothing committed and the
next open recovers the WAL cleanly. Only an OS crash or power cut may lose the
last transactions before a checkpoint (never corrupt the file); synchronous=FULL
would close that window at the cost of an fsync per commit, which a
one-commit-per-second writer does not need.

Batching: queued writes go into a bounded buffer that one writer task commits
in a single transaction about once a second, so the cost per write is a row,
not a commit. When the disk is full (or the database is locked for longer than
busy_timeout), the batch stays buffered, the error is logged once, and
monitoring goes on; beyond `max_pending` the oldest writes are dropped and
counted in `stats.dropped`.

Readers use their own connection: WAL lets them read while the daemon writes,
and busy_timeout lets short write locks wait instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite

from ..alerts.model import Alert, AlertEvent, AlertState, Silence
from ..paths import default_db_path
from ..redact import redact_text, redact_url
from ..state import Severity, Status
from .migrations import LATEST_VERSION, SchemaError, migrate, rollback_quietly, schema_version
from .rollup import HealthMinute

log = logging.getLogger("camwatch.store")

DEFAULT_RETENTION_DAYS = 30.0
AUDIT_RETENTION_DAYS = 365.0  # evidence of who did what outlives health samples
BUSY_TIMEOUT_MS = 5000
WAL_SIZE_LIMIT = 64 * 1024 * 1024
_DELETE_CHUNK = 5000  # retention deletes in chunks so readers and the writer never wait long

__all__ = [
    "AckRecord",
    "AuditEntry",
    "CameraRecord",
    "SchemaError",
    "StatusInterval",
    "Store",
    "StoreError",
    "StoreStats",
    "default_db_path",
]


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class StoreStats:
    pending: int
    written: int  # queued writes committed
    dropped: int  # queued writes lost because the buffer was full
    flushes: int
    failures: int  # flushes that failed (disk full, locked...)
    last_error: str | None
    disk_full: bool
    last_flush_ms: float | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    user: str
    action: str
    target: str
    detail: str


@dataclass(frozen=True, slots=True)
class AckRecord:
    alert_id: str
    camera: str
    rule: str
    user: str
    at: float
    comment: str


@dataclass(frozen=True, slots=True)
class StatusInterval:
    camera: str
    status: str
    reason: str
    start: float
    end: float | None  # None while it lasts


@dataclass(frozen=True, slots=True)
class CameraRecord:
    name: str
    site: str
    tags: tuple[str, ...]
    url: str
    first_seen: float | None
    last_seen: float | None


# -- SQL ----------------------------------------------------------------------

_UPSERT_ALERT = """
INSERT INTO alerts (id, camera, site, rule, severity, state, reason, value, threshold, started,
                    raised, updated, resolved_at, acked_by, acked_at, ack_comment, silenced,
                    flapping)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    severity = excluded.severity, state = excluded.state, reason = excluded.reason,
    value = excluded.value, threshold = excluded.threshold, updated = excluded.updated,
    resolved_at = excluded.resolved_at, acked_by = excluded.acked_by,
    acked_at = excluded.acked_at, ack_comment = excluded.ack_comment,
    silenced = excluded.silenced, flapping = excluded.flapping
WHERE excluded.updated >= alerts.updated
"""
_INSERT_ACK = (
    "INSERT INTO acknowledgements (alert_id, camera, rule, user, at, comment)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_CAMERA = """
INSERT INTO cameras (name, site, tags, url, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET site = excluded.site, tags = excluded.tags, url = excluded.url,
    last_seen = max(coalesce(cameras.last_seen, 0), excluded.last_seen)
"""
_SEEN = "UPDATE cameras SET last_seen = max(coalesce(last_seen, 0), ?) WHERE name = ?"
_CLOSE_INTERVAL = "UPDATE state_changes SET end = max(start, ?) WHERE camera = ? AND end IS NULL"
_OPEN_INTERVAL = "INSERT INTO state_changes (camera, status, reason, start) VALUES (?, ?, ?, ?)"
_UPSERT_HEALTH = """
INSERT INTO health_minute (camera, minute, observed_s, live_s, status, samples, fps, bitrate_bps,
                           loss_ratio, jitter_ms, motion, sharpness, reconnects)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (camera, minute) DO UPDATE SET
    observed_s = min(60.0, observed_s + excluded.observed_s),
    live_s = min(60.0, live_s + excluded.live_s),
    status = excluded.status,
    fps = (coalesce(fps * samples, 0) + coalesce(excluded.fps * excluded.samples, 0))
          / nullif(samples + excluded.samples, 0),
    bitrate_bps = (coalesce(bitrate_bps * samples, 0)
                   + coalesce(excluded.bitrate_bps * excluded.samples, 0))
          / nullif(samples + excluded.samples, 0),
    loss_ratio = max(coalesce(loss_ratio, 0), coalesce(excluded.loss_ratio, 0)),
    jitter_ms = max(coalesce(jitter_ms, 0), coalesce(excluded.jitter_ms, 0)),
    motion = coalesce(excluded.motion, motion),
    sharpness = coalesce(excluded.sharpness, sharpness),
    reconnects = reconnects + excluded.reconnects,
    samples = samples + excluded.samples
"""
_INSERT_AUDIT = "INSERT INTO audit (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)"

_Write = tuple[str, tuple[Any, ...]]


def _alert_row(a: Alert) -> tuple[Any, ...]:
    return (
        a.id,
        a.camera,
        a.site,
        a.rule,
        a.severity.value,
        a.state.value,
        redact_text(a.reason),
        a.value,
        a.threshold,
        a.started,
        a.raised,
        a.updated,
        a.resolved_at,
        a.acked_by,
        a.acked_at,
        a.ack_comment,
        int(a.silenced),
        int(a.flapping),
    )


def _alert_from(row: Sequence[Any]) -> Alert:
    return Alert(
        id=row[0],
        camera=row[1],
        site=row[2],
        rule=row[3],
        severity=Severity(row[4]),
        state=AlertState(row[5]),
        reason=row[6],
        value=row[7],
        threshold=row[8],
        started=row[9],
        raised=row[10],
        updated=row[11],
        resolved_at=row[12],
        acked_by=row[13],
        acked_at=row[14],
        ack_comment=row[15],
        silenced=bool(row[16]),
        flapping=bool(row[17]),
    )


_ALERT_COLUMNS = (
    "id, camera, site, rule, severity, state, reason, value, threshold, started, raised,"
    " updated, resolved_at, acked_by, acked_at, ack_comment, silenced, flapping"
)
_SILENCE_COLUMNS = "id, target_kind, target, start, end, reason, author, maintenance"


def _silence_from(row: Sequence[Any]) -> Silence:
    return Silence(
        id=row[0],
        target_kind=row[1],
        target=row[2],
        start=row[3],
        end=row[4],
        reason=row[5],
        author=row[6],
        maintenance=bool(row[7]),
    )


def _is_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


class Store:
    """History database; see the module docstring for the API and guarantees."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path,
        *,
        readonly: bool,
        retention_days: float,
        flush_interval: float,
        max_pending: int,
    ) -> None:
        self._db = db
        self.path = path
        self.readonly = readonly
        self.retention_days = retention_days
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self._pending: deque[_Write] = deque()
        self._lock = asyncio.Lock()  # one write transaction at a time on this connection
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._written = self._dropped = self._flushes = self._failures = 0
        self._last_error: str | None = None
        self._disk_full = False
        self._last_flush_ms: float | None = None

    # -- opening and closing -------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
    ) -> Store:
        """Open (creating and migrating unless readonly) and start the writer task."""
        p = Path(path) if path is not None else default_db_path()
        try:
            db = await cls._connect(p, readonly)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open history database {p}: {exc}") from exc
        store = cls(
            db,
            p,
            readonly=readonly,
            retention_days=retention_days,
            flush_interval=flush_interval,
            max_pending=max_pending,
        )
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        if not readonly:
            store._writer = asyncio.create_task(store._write_loop(), name=f"store-writer:{p}")
        return store

    @staticmethod
    async def _connect(p: Path, readonly: bool) -> aiosqlite.Connection:
        target = _target(p, readonly)
        return await aiosqlite.connect(target, uri=readonly, isolation_level=None)

    async def _prepare(self) -> None:
        db, p = self._db, self.path
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.readonly:
                version = await schema_version(db)
                if version != LATEST_VERSION:
                    raise SchemaError(
                        f"{p}: history database schema version {version}, this camwatch"
                        f" reads version {LATEST_VERSION} (run the daemon once to migrate)"
                    )
                return
            async with db.execute("PRAGMA journal_mode = WAL") as cur:
                mode = (await cur.fetchone() or ("?",))[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{p}: cannot switch to WAL journal mode (got {mode})")
            await db.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints truncate the WAL back to this size instead of leaving it at its peak.
            await db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            await migrate(db, str(p))
            await self._close_dangling_intervals()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use history database {p}: {exc}") from exc

    async def _close_dangling_intervals(self) -> None:
        """After a crash, intervals still open end at the camera's last heartbeat."""
        async with self._lock:
            await self._db.execute(
                """UPDATE state_changes SET end = max(start, coalesce(
                       (SELECT last_seen FROM cameras WHERE name = state_changes.camera), start))
                   WHERE end IS NULL"""
            )

    async def close(self, grace: float = 5.0) -> None:
        """Stop the writer, commit what is buffered (waiting at most `grace` s), close."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
            try:
                await asyncio.wait_for(self.flush(), grace)
            except TimeoutError:
                log.error("history database %s: final flush timed out", self.path)
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- queued writes ---------------------------------------------------------

    def _queue(self, *writes: _Write) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only")
        for w in writes:
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self._dropped += 1
            self._pending.append(w)

    def put_camera(
        self, name: str, site: str = "", tags: Iterable[str] = (), url: str = "", at: float = 0.0
    ) -> None:
        at = at or time.time()
        row = (name, site, ",".join(tags), redact_url(url), at, at)
        self._queue((_UPSERT_CAMERA, row))

    def put_seen(self, cameras: Iterable[str], at: float) -> None:
        self._queue(*((_SEEN, (at, name)) for name in cameras))

    def put_alert(self, event: AlertEvent) -> None:
        a = event.alert
        self._queue((_UPSERT_ALERT, _alert_row(a)))
        if event.kind == "acknowledged" and a.acked_by:
            row = (a.id, a.camera, a.rule, a.acked_by, a.acked_at or event.at, a.ack_comment or "")
            self._queue((_INSERT_ACK, row))

    def put_status(self, camera: str, status: Status | str, reason: str, start: float) -> None:
        self._queue(
            (_CLOSE_INTERVAL, (start, camera)),
            (_OPEN_INTERVAL, (camera, str(status), redact_text(reason), start)),
        )

    def close_intervals(self, at: float) -> None:
        """Monitoring stops: every open interval ends now (the gap is unobserved)."""
        self._queue(("UPDATE state_changes SET end = max(start, ?) WHERE end IS NULL", (at,)))

    def put_health(self, minutes: Iterable[HealthMinute]) -> None:
        self._queue(
            *(
                (
                    _UPSERT_HEALTH,
                    (
                        m.camera,
                        m.minute,
                        m.observed_s,
                        m.live_s,
                        m.status,
                        m.samples,
                        m.fps,
                        m.bitrate_bps,
                        m.loss_ratio,
                        m.jitter_ms,
                        m.motion,
                        m.sharpness,
                        m.reconnects,
                    ),
                )
                for m in minutes
            )
        )

    def put_audit(
        self,
        action: str,
        target: str = "",
        detail: str = "",
        user: str | None = None,
        at: float | None = None,
    ) -> None:
        from ..alerts.rules import current_user

        row = (
            time.time() if at is None else at,
            user or current_user(),
            action,
            target,
            redact_text(detail),
        )
        self._queue((_INSERT_AUDIT, row))

    # -- flushing ------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            if self._pending:
                # Shielded: a cancel (close) never interrupts a transaction half-way.
                await asyncio.shield(self.flush())

    async def flush(self) -> int:
        """Commit everything queued so far in one transaction; returns rows committed.

        On failure the batch stays queued (bounded) and the error is recorded.
        """
        async with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, deque()
            t0 = time.perf_counter()
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                for sql, rows in _group(batch):
                    await self._db.executemany(sql, rows)
                await self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                await rollback_quietly(self._db)
                self._requeue(batch)
                self._failed(exc)
                return 0
            self._flushes += 1
            self._written += len(batch)
            self._last_flush_ms = (time.perf_counter() - t0) * 1000
            if self._disk_full or self._last_error:
                log.warning(
                    "history database %s writable again (%d writes dropped meanwhile)",
                    self.path,
                    self._dropped,
                )
            self._disk_full, self._last_error = False, None
            return len(batch)

    def _requeue(self, batch: deque[_Write]) -> None:
        newer, self._pending = self._pending, batch
        self._queue(*newer)
        while len(self._pending) > self.max_pending:
            self._pending.popleft()
            self._dropped += 1

    def _failed(self, exc: sqlite3.Error) -> None:
        self._failures += 1
        full = _is_full(exc)
        message = f"{exc}"
        if message != self._last_error:  # log once per distinct problem, not once a second
            what = "is full" if full else "cannot be written"
            log.error(
                "history database %s %s (%s): monitoring continues, %d writes buffered"
                " (oldest dropped beyond %d)",
                self.path,
                what,
                message,
                len(self._pending),
                self.max_pending,
            )
        self._last_error, self._disk_full = message, full

    @property
    def stats(self) -> StoreStats:
        return StoreStats(
            pending=len(self._pending),
            written=self._written,
            dropped=self._dropped,
            flushes=self._flushes,
            failures=self._failures,
            last_error=self._last_error,
            disk_full=self._disk_full,
            last_flush_ms=self._last_flush_ms,
        )

    # -- immediate writes (rare, user-driven: durable when they return) --------

    async def _write_now(
        self, sql: str, params: tuple[Any, ...], *more: _Write, only_if_changed: bool = False
    ) -> tuple[int, int]:
        """One statement (plus audit rows) in its own transaction: (lastrowid, rowcount).

        With only_if_changed, the extra rows are written only if the statement changed one.
        """
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only")
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                cur = await self._db.execute(sql, params)
                result = (cur.lastrowid or 0, cur.rowcount)
                await cur.close()
                for s, p in more if result[1] > 0 or not only_if_changed else ():
                    await self._db.execute(s, p)
                await self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                await rollback_quietly(self._db)
                raise StoreError(f"history database {self.path}: {exc}") from exc
        return result

    async def add_silence(self, s: Silence, at: float | None = None) -> Silence:
        """Record a silence or maintenance window (and its audit entry); returns it with id."""
        at = time.time() if at is None else at
        kind = "maintenance" if s.maintenance else "silence"
        audit = (
            _INSERT_AUDIT,
            (at, s.author, kind, f"{s.target_kind}:{s.target}", _silence_detail(s)),
        )
        row = (s.id, s.target_kind, s.target, s.start, s.end, s.reason, s.author)
        new_id, _ = await self._write_now(
            "INSERT INTO silences (id, target_kind, target, start, end, reason, author,"
            " maintenance, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, int(s.maintenance), at),
            audit,
        )
        return Silence(
            id=s.id if s.id is not None else new_id,
            target_kind=s.target_kind,
            target=s.target,
            start=s.start,
            end=s.end,
            reason=s.reason,
            author=s.author,
            maintenance=s.maintenance,
        )

    async def remove_silence(self, silence_id: int, user: str, at: float | None = None) -> bool:
        """End a silence now (kept in history with who removed it); False if unknown."""
        at = time.time() if at is None else at
        audit = (_INSERT_AUDIT, (at, user, "unsilence", f"silence:{silence_id}", ""))
        _, changed = await self._write_now(
            "UPDATE silences SET removed_at = ?, removed_by = ?, end = min(end, max(start, ?))"
            " WHERE id = ? AND removed_at IS NULL",
            (at, user, at, silence_id),
            audit,
            only_if_changed=True,
        )
        return changed > 0

    async def save_baseline(
        self, camera: str, data: bytes, user: str | None = None, at: float | None = None
    ) -> None:
        from ..alerts.rules import current_user

        at = time.time() if at is None else at
        user = user or current_user()
        await self._write_now(
            "INSERT INTO baselines (camera, captured, author, data) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (camera) DO UPDATE SET captured = excluded.captured,"
            " author = excluded.author, data = excluded.data",
            (camera, at, user, data),
            (_INSERT_AUDIT, (at, user, "baseline", f"camera:{camera}", f"{len(data)} bytes")),
        )

    # -- retention -----------------------------------------------------------------

    async def enforce_retention(self, now: float | None = None) -> dict[str, int]:
        """Delete history older than retention_days (audit: AUDIT_RETENTION_DAYS)."""
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86400
        audit_cutoff = now - max(self.retention_days, AUDIT_RETENTION_DAYS) * 86400
        targets = {
            "health_minute": ("health_minute", "minute < ?", cutoff, "camera, minute"),
            "state_changes": ("state_changes", "end IS NOT NULL AND end < ?", cutoff, "rowid"),
            "alerts": ("alerts", "state = 'resolved' AND resolved_at < ?", cutoff, "rowid"),
            "acknowledgements": ("acknowledgements", "at < ?", cutoff, "rowid"),
            "silences": ("silences", "end < ?", cutoff, "rowid"),
            "audit": ("audit", "at < ?", audit_cutoff, "rowid"),
        }
        deleted: dict[str, int] = {}
        for name, (table, where, limit, key) in targets.items():
            total = 0
            while True:
                sql = (
                    f"DELETE FROM {table} WHERE ({key}) IN"
                    f" (SELECT {key} FROM {table} WHERE {where} LIMIT {_DELETE_CHUNK})"
                )
                _, n = await self._write_now(sql, (limit,))
                total += n
                if n < _DELETE_CHUNK:
                    break
                await asyncio.sleep(0)  # let the writer and readers in between chunks
            deleted[name] = total
        return deleted

    # -- reads ---------------------------------------------------------------------

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return list(await self._db.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"history database {self.path}: {exc}") from exc

    async def _select(
        self,
        columns: str,
        table: str,
        *conds: tuple[str, Any],
        order: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        """SELECT columns FROM table [WHERE conditions] [ORDER BY order] [LIMIT limit].

        A condition is (sql, value): left out when value is None, else ANDed in, binding
        value where sql has a `?` (`("maintenance = 1", flag or None)` is a switch).
        """
        where = [sql for sql, value in conds if value is not None]
        params = [value for sql, value in conds if value is not None and "?" in sql]
        sql = f"SELECT {columns} FROM {table}"
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        if order:
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return await self._fetch(sql, params)

    async def alerts(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        camera: str | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[Alert]:
        """Alerts raised in [since, until), newest first (open_only: not yet resolved)."""
        rows = await self._select(
            _ALERT_COLUMNS,
            "alerts",
            ("raised >= ?", since),
            ("raised < ?", until),
            ("camera = ?", camera),
            ("state != 'resolved'", open_only or None),
            order="raised DESC",
            limit=limit,
        )
        return [_alert_from(r) for r in rows]

    async def open_alerts(self) -> list[Alert]:
        return await self.alerts(open_only=True, limit=1_000_000)

    async def acknowledgements(
        self, *, alert_id: str | None = None, since: float | None = None, limit: int = 1000
    ) -> list[AckRecord]:
        rows = await self._select(
            "alert_id, camera, rule, user, at, comment",
            "acknowledgements",
            ("alert_id = ?", alert_id),
            ("at >= ?", since),
            order="at DESC",
            limit=limit,
        )
        return [AckRecord(*r) for r in rows]

    async def silences(
        self, *, active_at: float | None = None, maintenance_only: bool = False
    ) -> list[Silence]:
        """Silences (active at a time, or all kept); removed ones end at their removal."""
        rows = await self._select(
            _SILENCE_COLUMNS,
            "silences",
            ("start <= ?", active_at),
            ("end > ?", active_at),
            ("maintenance = 1", maintenance_only or None),
            order="start",
        )
        return [_silence_from(r) for r in rows]

    async def audit_log(
        self, *, since: float | None = None, action: str | None = None, limit: int = 500
    ) -> list[AuditEntry]:
        rows = await self._select(
            "id, at, user, action, target, detail",
            "audit",
            ("at >= ?", since),
            ("action = ?", action),
            order="at DESC, id DESC",
            limit=limit,
        )
        return [AuditEntry(*r) for r in rows]

    async def health(
        self, camera: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[HealthMinute]:
        rows = await self._select(
            "camera, minute, observed_s, live_s, status, samples, fps, bitrate_bps,"
            " loss_ratio, jitter_ms, motion, sharpness, reconnects",
            "health_minute",
            ("camera = ?", camera),
            ("minute >= ?", since),
            ("minute < ?", until),
            order="camera, minute",
        )
        return [HealthMinute(*r) for r in rows]

    async def intervals(
        self, since: float, until: float, camera: str | None = None
    ) -> list[StatusInterval]:
        """Status intervals overlapping [since, until), by camera then start."""
        rows = await self._select(
            "camera, status, reason, start, end",
            "state_changes",
            ("camera = ?", camera),
            ("start < ?", until),
            ("(end IS NULL OR end > ?)", since),
            order="camera, start, id",
        )
        return [StatusInterval(*r) for r in rows]

    async def cameras(self) -> list[CameraRecord]:
        rows = await self._select(
            "name, site, tags, url, first_seen, last_seen", "cameras", order="name"
        )
        return [
            CameraRecord(r[0], r[1], tuple(t for t in r[2].split(",") if t), r[3], r[4], r[5])
            for r in rows
        ]

    async def load_baseline(self, camera: str) -> bytes | None:
        rows = await self._select("data", "baselines", ("camera = ?", camera))
        return bytes(rows[0][0]) if rows else None

    async def integrity_check(self) -> str:
        rows = await self._fetch("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)


def _target(p: Path, readonly: bool) -> str:
    """The sqlite3 connect target; readers never create a database by accident."""
    if readonly:
        if not p.exists():
            raise StoreError(f"no history database at {p} (has `camwatch daemon` run?)")
        return f"file:{quote(str(p.resolve()))}?mode=ro"
    p.parent.mkdir(parents=True, exist_ok=True)
    return str(p)


def _silence_detail(s: Silence) -> str:
    span = f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(s.start))} to "
    span += time.strftime("%Y-%m-%d %H:%M", time.localtime(s.end))
    return f"{span}: {s.reason}" if s.reason else span


def _group(batch: Iterable[_Write]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Consecutive writes with the same SQL become one executemany (order kept)."""
    groups: list[tuple[str, list[tuple[Any, ...]]]] = []
    for sql, params in batch:
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))
    return groups
