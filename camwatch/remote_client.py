"""The viewer side of camwatch.remote: the daemon's bus and control through its socket.

A RemoteLink is one connection, re-established with backoff when lost; it
keeps a mirror of the daemon's camera states and this process's subscribers.
RemoteBus and RemoteControl are its two faces, implementing camwatch.bus.Bus
and camwatch.control.Control, so the TUI cannot tell them from a local core.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .alerts.model import Alert, Silence
from .backoff import Backoff
from .bus import Message, Subscription
from .control import MAX_COMMENT, ControlError
from .paths import runtime_socket_path
from .remote_access import access_help
from .remote_wire import (
    CLOSE_TIMEOUT_S,
    EVENT_TYPES,
    MAX_ARG,
    MAX_INFLIGHT,
    MAX_LINE,
    MAX_REQUEST_LINE,
    PROTOCOL,
    VERSION,
    RemoteAccessError,
    RemoteError,
    WireError,
    decode_alert,
    decode_alerts,
    decode_event,
    decode_silence,
    dump,
    load,
    thumb_from_wire,
)
from .state import CameraState, FrameSample

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 5.0
MAX_NOTIFY_BUFFER = 1 << 20  # bytes queued to the daemon before notifications are dropped
CONNECTION_LOST = "daemon connection lost — reconnecting"


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """Published on a RemoteBus (to its own subscribers) when the daemon link drops or returns."""

    connected: bool
    message: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ThumbnailReady:
    """Published on a RemoteBus when a newer thumbnail of `camera` has arrived."""

    camera: str
    at: float


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class RemoteLink:
    """One connection to the daemon, re-established with backoff when lost.

    Holds the mirror of the daemon's camera states and the local subscribers;
    RemoteBus and RemoteControl are views of it.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        user: str | None = None,
        timeout: float = 2.0,
        call_timeout: float = CALL_TIMEOUT_S,
        reconnect: bool = True,
        backoff: Backoff | None = None,
    ) -> None:
        self.path = Path(path)
        self.user = user or current_user()
        self.timeout = timeout
        self.call_timeout = call_timeout
        self.reconnect = reconnect
        self.backoff = backoff or Backoff(initial=0.25, maximum=5.0)
        self.states: dict[str, CameraState] = {}
        self.subs: list[Subscription] = []
        self.connected = False
        self.last_error = ""
        self.bad_lines = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._bye = ""
        self._closed = False
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and sync once. FileNotFoundError/ConnectionRefusedError when no daemon
        listens; RemoteAccessError when refused; RemoteError for anything else."""
        reader, writer, states = await self._connect()
        self.states = states
        self._attach(reader, writer)
        self._runner = asyncio.create_task(self._run(), name=f"camwatch link {self.path}")

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._drop_connection("closed")
        for sub in self.subs:
            sub.close()
        self.subs.clear()

    # --- bus side ----------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        for sub in self.subs:
            sub.put(message)

    def _mark_resync(self) -> None:
        # What an overflowing mailbox looks like: subscribers reload from states().
        for sub in self.subs:
            sub.dropped += 1

    # --- calls -------------------------------------------------------------------------

    async def call(self, op: str, **args: Any) -> Any:
        """Ask the daemon; ControlError if it refuses, is gone, or does not answer in time."""
        writer = self._writer
        if not self.connected or writer is None:
            raise ControlError(f"not connected to the daemon ({self.last_error or 'closed'})")
        if len(self._pending) >= MAX_INFLIGHT:
            raise ControlError("too many requests waiting for the daemon")
        self._next_id += 1
        cid = self._next_id
        line = dump({"t": "call", "id": cid, "op": op, "args": args})
        if len(line) > MAX_REQUEST_LINE:
            raise ControlError("request too large")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cid] = future
        try:
            async with asyncio.timeout(self.call_timeout):
                writer.write(line)
                await writer.drain()
                reply = await future
        except TimeoutError:
            raise ControlError(
                f"the daemon did not answer within {self.call_timeout:g} s"
            ) from None
        except (ConnectionError, OSError):
            raise ControlError("daemon connection lost") from None
        finally:
            self._pending.pop(cid, None)
        if reply.get("ok") is True:
            return reply.get("v")
        raise ControlError(str(reply.get("error") or "the daemon refused"))

    def notify(self, op: str, **args: Any) -> None:
        """Send without waiting for an answer (dropped while disconnected)."""
        writer = self._writer
        if not self.connected or writer is None or writer.is_closing():
            return
        if writer.transport.get_write_buffer_size() > MAX_NOTIFY_BUFFER:
            return
        writer.write(dump({"t": "call", "id": None, "op": op, "args": args}))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background job owned by the link (cancelled by close())."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connection --------------------------------------------------------------------

    async def _connect(
        self,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, CameraState]]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=MAX_LINE), self.timeout
            )
        except PermissionError:
            raise RemoteAccessError(access_help(self.path)) from None
        except TimeoutError:
            raise RemoteError(f"the daemon socket {self.path} accepts no connection") from None
        try:
            states = await asyncio.wait_for(self._handshake(reader, writer), self.timeout)
        except TimeoutError:
            await _close(writer)
            raise RemoteError(
                f"the daemon on {self.path} did not complete the handshake in {self.timeout:g} s"
            ) from None
        except WireError as exc:
            await _close(writer)
            raise RemoteError(f"bad data from the daemon on {self.path}: {exc}") from None
        except BaseException:
            await _close(writer)
            raise
        return reader, writer, states

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, CameraState]:
        first = load(await _line(reader))
        if first["t"] == "error":
            if first.get("code") == "forbidden":
                detail = f" (the daemon says: {first.get('error')})"
                raise RemoteAccessError(access_help(self.path) + detail)
            raise RemoteError(f"the daemon on {self.path} refused: {first.get('error')}")
        if first["t"] != "hello" or first.get("proto") != PROTOCOL:
            raise RemoteError(f"{self.path} is not a camwatch daemon socket")
        if first.get("version") != VERSION:
            raise RemoteError(
                f"the daemon speaks protocol version {first.get('version')}, this camwatch "
                f"speaks {VERSION}: run the same camwatch version on both sides"
            )
        hello = {"t": "hello", "proto": PROTOCOL, "version": VERSION, "user": self.user}
        writer.write(dump(hello))
        await writer.drain()
        states: dict[str, CameraState] = {}
        while True:
            message = load(await _line(reader))
            kind = message["t"]
            if kind == "state":
                state = decode_event(message)
                states[state.name] = state  # type: ignore[attr-defined]
            elif kind == "sync":
                return {n: states[n] for n in _names(message) if n in states}
            elif kind == "error":
                raise RemoteError(f"the daemon on {self.path} refused: {message.get('error')}")

    def _attach(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self.connected, self.last_error, self._bye = True, "", ""
        self.backoff.reset()

    async def _run(self) -> None:
        while not self._closed:
            reason = await self._read()
            self.last_error = reason
            await self._drop_connection(reason)
            self.deliver(ConnectionChanged(False, CONNECTION_LOST, reason, time.time()))
            if not self.reconnect:
                return
            await self._reconnect()

    async def _read(self) -> str:
        reader = self._reader
        assert reader is not None
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return self._bye or "the daemon closed the connection"
                self._dispatch(line)
        except ValueError:
            return f"a line from the daemon was over {MAX_LINE} bytes"
        except (ConnectionError, OSError) as exc:
            return f"connection error: {exc}"

    def _dispatch(self, line: bytes) -> None:
        try:
            message = load(line)
            kind = message["t"]
            if kind in EVENT_TYPES:
                event = decode_event(message)
                if isinstance(event, CameraState):
                    self.states[event.name] = event
                self.deliver(event)
            elif kind == "reply":
                future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
                if future is not None and not future.done():
                    future.set_result(message)
            elif kind == "sync":
                names = _names(message)
                self.states = {n: self.states[n] for n in names if n in self.states}
                if message.get("reload"):
                    self._mark_resync()
            elif kind == "bye":
                self._bye = f"the daemon stopped ({str(message.get('reason'))[:200]})"
            elif kind == "error":
                log.warning("daemon: %s", str(message.get("error"))[:500])
        except WireError as exc:
            self.bad_lines += 1
            log.warning("ignored a bad line from the daemon: %s", exc)

    async def _drop_connection(self, reason: str) -> None:
        self.connected = False
        writer, self._writer, self._reader = self._writer, None, None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ControlError(f"daemon connection lost: {reason}"))
        self._pending.clear()
        if writer is not None:
            await _close(writer)

    async def _reconnect(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.backoff.next_delay())
            try:
                reader, writer, states = await self._connect()
            except (RemoteError, OSError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.debug("reconnect to %s failed: %s", self.path, self.last_error)
                continue
            self.states = states
            self._attach(reader, writer)
            self.deliver(ConnectionChanged(True, "reconnected to the daemon", "", time.time()))
            self._mark_resync()
            return


async def _line(reader: asyncio.StreamReader) -> bytes:
    line = await reader.readline()
    if not line.endswith(b"\n"):
        raise RemoteError("the daemon closed the connection")
    return line


def _names(message: dict[str, Any]) -> list[str]:
    names = message.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise WireError("sync: names must be a list of strings")
    return names


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)


class RemoteBus:
    """The daemon's bus as seen by a viewer (implements camwatch.bus.Bus).

    `states()` is the daemon's latest state per camera; subscribers get its
    states and events, plus ConnectionChanged and ThumbnailReady. `publish`
    reaches this viewer's subscribers only: viewers cannot publish to the daemon.
    """

    def __init__(self, link: RemoteLink) -> None:
        self.link = link

    @property
    def connected(self) -> bool:
        return self.link.connected

    def publish(self, message: Message) -> None:
        self.link.deliver(message)

    def subscribe(self, maxsize: int = 1024) -> Subscription:
        sub = Subscription(maxsize)
        self.link.subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        if sub in self.link.subs:
            self.link.subs.remove(sub)

    def states(self) -> dict[str, CameraState]:
        return dict(self.link.states)

    async def aclose(self) -> None:
        """Close the connection (shared with the RemoteControl)."""
        await self.link.close()


@dataclass(frozen=True, slots=True)
class _Thumb:
    sample: FrameSample | None
    asked: float  # monotonic time of the request that produced it


class RemoteControl:
    """The daemon's Control as seen by a viewer (implements camwatch.control.Control).

    Actions are requests with a timeout (ControlError when refused, lost or
    late). `thumbnail()` must answer at once, so it returns the last frame
    fetched and asks for a newer one in the background at most every
    `thumb_refresh_s`; a ThumbnailReady on the bus says when one arrived.
    """

    def __init__(self, link: RemoteLink, *, thumb_refresh_s: float = 1.0, thumbs: int = 64) -> None:
        self.link = link
        self.thumb_refresh_s = thumb_refresh_s
        self._thumbs: OrderedDict[str, _Thumb] = OrderedDict()
        self._max_thumbs = thumbs
        self._fetching: set[str] = set()

    async def acknowledge(self, alert_id: str, user: str, comment: str) -> Alert:
        value = await self.link.call(
            "acknowledge", alert_id=alert_id, user=user, comment=comment[:MAX_COMMENT]
        )
        return _decoded(decode_alert, value)

    async def silence(
        self, target_kind: str, target: str, duration_s: float, reason: str, user: str
    ) -> Silence:
        value = await self.link.call(
            "silence",
            target_kind=target_kind,
            target=target,
            duration_s=duration_s,
            reason=reason[:MAX_ARG],
            user=user,
        )
        return _decoded(decode_silence, value)

    async def capture_baseline(self, camera: str, user: str) -> None:
        await self.link.call("capture_baseline", camera=camera, user=user)

    async def active_alerts(self) -> list[Alert]:
        return _decoded(decode_alerts, await self.link.call("active_alerts"))

    async def alert_history(self, limit: int = 200) -> list[Alert]:
        return _decoded(decode_alerts, await self.link.call("alert_history", limit=limit))

    def thumbnail(self, camera: str) -> FrameSample | None:
        entry = self._thumbs.get(camera)
        stale = entry is None or time.monotonic() - entry.asked >= self.thumb_refresh_s
        if stale and camera not in self._fetching and self.link.connected:
            self._fetching.add(camera)
            self.link.spawn(self._refresh(camera))
        return entry.sample if entry is not None else None

    async def fetch_thumbnail(self, camera: str) -> FrameSample | None:
        """Ask the daemon for camera's frame now (None: no frame, or thumbnails are off)."""
        asked = time.monotonic()
        entry = self._thumbs.get(camera)
        old = entry.sample if entry is not None else None
        value = await self.link.call("thumbnail", camera=camera, since=old.at if old else None)
        if value is None:
            sample = None
        elif isinstance(value, dict) and value.get("unchanged") is True:
            sample = old
        else:
            sample = _decoded(thumb_from_wire, value)
        self._thumbs[camera] = _Thumb(sample, asked)
        self._thumbs.move_to_end(camera)
        while len(self._thumbs) > self._max_thumbs:
            self._thumbs.popitem(last=False)
        if sample is not None and (old is None or old.at != sample.at):
            self.link.deliver(ThumbnailReady(camera, sample.at))
        return sample

    async def _refresh(self, camera: str) -> None:
        try:
            await self.fetch_thumbnail(camera)
        except ControlError as exc:
            log.debug("thumbnail of %s: %s", camera, exc)
        finally:
            self._fetching.discard(camera)

    def record_view(self, camera: str, user: str) -> None:
        self.link.notify("record_view", camera=camera, user=user)


def _decoded(decode: Any, value: object) -> Any:
    try:
        return decode(value)
    except WireError as exc:
        raise ControlError(f"bad reply from the daemon: {exc}") from None


async def connect(
    path: Path | str | None = None,
    timeout: float = 2.0,  # noqa: ASYNC109 - bounds connect + handshake, not one await
    *,
    user: str | None = None,
    reconnect: bool = True,
    call_timeout: float = CALL_TIMEOUT_S,
) -> tuple[RemoteBus, RemoteControl]:
    """Attach to the daemon at `path` (default: paths.runtime_socket_path()).

    Raises FileNotFoundError/ConnectionRefusedError when no daemon listens,
    RemoteAccessError (with how to get access) when refused, RemoteError
    otherwise. Close with `await bus.aclose()`.
    """
    link = RemoteLink(
        path if path is not None else runtime_socket_path(),
        user=user,
        timeout=timeout,
        reconnect=reconnect,
        call_timeout=call_timeout,
    )
    await link.open()
    return RemoteBus(link), RemoteControl(link)


async def attach(
    path: Path | str | None = None,
    timeout: float = 2.0,  # noqa: ASYNC109 - as connect()
    **opts: Any,
) -> tuple[RemoteBus, RemoteControl] | None:
    """Like connect(), but None when no daemon socket answers (run an in-process core then)."""
    try:
        return await connect(path, timeout, **opts)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
