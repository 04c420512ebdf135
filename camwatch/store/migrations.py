"""Versioned schema of the history database, applied at open.

The version lives in `PRAGMA user_version` (in the database header, so it is
written in the same transaction as the schema change: a crash mid-migration
leaves the previous version intact). Append new migrations; never edit one
that has shipped.
"""

from __future__ import annotations

import sqlite3

import aiosqlite

# Each entry: the statements that take the schema from version i to i+1.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE cameras (
            name TEXT PRIMARY KEY,
            site TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '',   -- comma-separated
            url TEXT NOT NULL DEFAULT '',    -- always redacted
            first_seen REAL,
            last_seen REAL
        )""",
        """CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            site TEXT NOT NULL DEFAULT '',
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            value REAL,
            threshold REAL,
            started REAL NOT NULL,
            raised REAL NOT NULL,
            updated REAL NOT NULL,
            resolved_at REAL,
            acked_by TEXT,
            acked_at REAL,
            ack_comment TEXT,
            silenced INTEGER NOT NULL DEFAULT 0,
            flapping INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX alerts_raised ON alerts(raised)",
        "CREATE INDEX alerts_camera ON alerts(camera, raised)",
        "CREATE INDEX alerts_open ON alerts(state) WHERE state != 'resolved'",
        """CREATE TABLE acknowledgements (
            id INTEGER PRIMARY KEY,
            alert_id TEXT NOT NULL,
            camera TEXT NOT NULL,
            rule TEXT NOT NULL,
            user TEXT NOT NULL,
            at REAL NOT NULL,
            comment TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX acknowledgements_alert ON acknowledgements(alert_id)",
        """CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            target_kind TEXT NOT NULL CHECK (target_kind IN ('camera', 'site', 'tag')),
            target TEXT NOT NULL,
            start REAL NOT NULL,
            end REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            maintenance INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            removed_at REAL,
            removed_by TEXT
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX audit_at ON audit(at)",
        # Append-only: history is evidence. Only retention deletes old rows.
        """CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TABLE health_minute (
            camera TEXT NOT NULL,
            minute INTEGER NOT NULL,         -- epoch seconds of the minute's start
            observed_s REAL NOT NULL,
            live_s REAL NOT NULL,
            status TEXT NOT NULL,            -- last status seen in the minute
            samples INTEGER NOT NULL,        -- live samples behind the averages
            fps REAL,
            bitrate_bps REAL,
            loss_ratio REAL,
            jitter_ms REAL,
            motion REAL,
            sharpness REAL,
            reconnects INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (camera, minute)
        ) WITHOUT ROWID""",
        "CREATE INDEX health_minute_minute ON health_minute(minute)",
        """CREATE TABLE state_changes (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            start REAL NOT NULL,
            end REAL                         -- NULL while the status lasts
        )""",
        "CREATE INDEX state_changes_camera ON state_changes(camera, start)",
        "CREATE INDEX state_changes_open ON state_changes(camera) WHERE end IS NULL",
        """CREATE TABLE baselines (
            camera TEXT PRIMARY KEY,
            captured REAL NOT NULL,
            author TEXT NOT NULL,
            data BLOB NOT NULL
        )""",
    ),
]

LATEST_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this camwatch."""


async def schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection, path: str) -> int:
    """Bring the schema to LATEST_VERSION; returns the number of migrations applied.

    The connection must be in autocommit mode (isolation_level=None). Each step
    runs in its own IMMEDIATE transaction together with its version bump, so
    two processes opening a fresh database at once cannot both apply it.
    """
    applied = 0
    while True:
        await db.execute("BEGIN IMMEDIATE")
        try:
            version = await schema_version(db)
            if version > LATEST_VERSION:
                raise SchemaError(
                    f"{path}: history database schema version {version} is newer than this"
                    f" camwatch understands ({LATEST_VERSION}); upgrade camwatch"
                )
            if version == LATEST_VERSION:
                await db.execute("COMMIT")
                return applied
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1}")
            await db.execute("COMMIT")
            applied += 1
        except BaseException:
            await rollback_quietly(db)
            raise


async def rollback_quietly(db: aiosqlite.Connection) -> None:
    """Roll back if a transaction is open; never mask the error that got us here."""
    try:
        if db.in_transaction:
            await db.execute("ROLLBACK")
    except sqlite3.Error:
        pass
