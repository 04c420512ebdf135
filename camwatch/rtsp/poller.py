"""Timed reads of playing TCP sessions: one timer for the whole fleet.

Reading a camera's socket whenever it turns readable costs a loop wakeup, a
selector event, asyncio's read path and a recv for every frame the camera
sends: ~3,300 reads a second at 217 substreams, the largest share of the
event loop's time (bench/RESULTS.md). A monitor does not need each frame the
moment it lands; it needs each frame's *arrival time*, which the kernel
stamps (SO_TIMESTAMPNS) and reports for the newest byte of each read. So a
playing session's socket leaves the selector and is read every few ticks of
one shared timer: about a fifth of the reads, each with its kernel arrival
time.

A connection is read every few ticks (20 ms each): its period, 200 ms by
default. A new connection starts at one tick; the period halves while reads
come back large (a high bitrate stream must not fill its socket buffer
between reads) and doubles back while they are small. Control replies
(keepalives) wait at most one period.

The poller only schedules; reading, framing and error handling belong to
the connection (`Polled.poll`). A connection that raises is dropped from the
schedule and told so: one bad camera never stops the others' reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("camwatch.rtsp.poller")

TICK = 0.02  # s
DEFAULT_TICKS = 10  # 200 ms between reads of a connection
MAX_TICKS = 50  # 1 s: the longest period asked for is cut to this
_SLOTS = 64  # schedule ring; > MAX_TICKS
LARGE_READ = 24 * 1024  # bytes: read this connection twice as often
SMALL_READ = 8 * 1024  # bytes: may be read less often (up to its own period)


class Polled(Protocol):
    def poll(self, offset: float) -> int:
        """Read what is waiting; `offset` turns a kernel (wall clock) arrival
        time into monotonic time. Returns the bytes read; < 0: stop polling."""
        ...

    def poll_failed(self, exc: BaseException) -> None: ...


@dataclass(slots=True, eq=False)
class _Entry:
    """One registration of a connection: slots hold entries, so an entry left
    by a discarded registration never reads a connection added again."""

    conn: Polled
    base: int  # ticks between reads asked for
    ticks: int  # ticks until the next read


class Poller:
    """Reads its connections every few ticks of one loop timer.

    Used from its loop's thread only. Only its armed timer refers to the loop
    (the registry below is keyed by loop, weakly); the timer stops by itself
    once no connection is left, so a closed loop's poller goes with it.
    """

    def __init__(self, tick: float = TICK) -> None:
        self._tick = tick
        self._slots: list[list[_Entry]] = [[] for _ in range(_SLOTS)]
        self._entries: dict[Polled, _Entry] = {}
        self._slot = 0
        self._timer: asyncio.TimerHandle | None = None
        self._next_at = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, conn: Polled, period: float = DEFAULT_TICKS * TICK) -> None:
        """Read conn about every `period` seconds (see the module's notes;
        one tick at least, MAX_TICKS at most)."""
        if conn in self._entries:
            return
        base = min(MAX_TICKS, max(1, round(period / self._tick)))
        # Start at every tick and lengthen while reads stay small: a stream's
        # first second (a burst of buffered frames on some cameras) must not
        # wait behind a full socket buffer.
        entry = self._entries[conn] = _Entry(conn, base, 1)
        # Spread new connections over the period: sessions opened together
        # would otherwise all be read in the same tick.
        self._schedule(entry, 1 + len(self._entries) % base)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._next_at = loop.time() + self._tick
            self._timer = loop.call_at(self._next_at, self._run)

    def discard(self, conn: Polled) -> None:
        """Stop reading conn (its slot entry is skipped when reached; the timer
        runs out at its next tick if nothing is left)."""
        self._entries.pop(conn, None)

    def _schedule(self, entry: _Entry, ticks: int) -> None:
        self._slots[(self._slot + ticks) % _SLOTS].append(entry)

    def _run(self) -> None:
        try:
            self._read_due()
        finally:
            self._rearm()  # whatever happened, the other connections keep their reads

    def _read_due(self) -> None:
        self._slot = (self._slot + 1) % _SLOTS
        due, self._slots[self._slot] = self._slots[self._slot], []
        # Kernel arrival times are wall clock: one offset for the whole tick.
        offset = time.time() - time.monotonic()
        entries = self._entries
        for entry in due:
            conn = entry.conn
            if entries.get(conn) is not entry:
                continue  # discarded since it was scheduled
            try:
                got = conn.poll(offset)
            except Exception as exc:  # a bug in one camera's path: drop it alone
                log.exception("reading a camera's stream failed")
                self.discard(conn)
                with contextlib.suppress(Exception):
                    conn.poll_failed(exc)
                continue
            if got < 0 or entries.get(conn) is not entry:  # stopped, or discarded meanwhile
                self.discard(conn)
                continue
            entry.ticks = _next_period(entry.ticks, got, entry.base)
            self._schedule(entry, entry.ticks)

    def _rearm(self) -> None:
        if not self._entries:
            self._timer = None
            self._slots = [[] for _ in range(_SLOTS)]
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._next_at += self._tick
        if self._next_at < now:  # the loop fell behind: do not run ticks back to back
            self._next_at = now + self._tick
        self._timer = loop.call_at(self._next_at, self._run)


def _next_period(ticks: int, got: int, base: int) -> int:
    if got >= LARGE_READ:
        return max(1, ticks // 2)
    if got < SMALL_READ and ticks < base:
        return min(base, ticks * 2)
    return ticks


_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller] = weakref.WeakKeyDictionary()


def poller_for(loop: asyncio.AbstractEventLoop) -> Poller:
    """The running loop's poller (one per loop: shards and tests run several)."""
    poller = _POLLERS.get(loop)
    if poller is None:
        poller = _POLLERS[loop] = Poller()
    return poller
