"""The daemon side of camwatch.remote: serves a core's bus and control to local viewers.

Each viewer gets a bounded drop-oldest mailbox on the bus and a pump that
writes it; the core never waits for a viewer. One that falls behind gets the
latest state of every camera again (a "sync" with reload=true); one that stops
reading for `write_timeout` is disconnected. Requests run as tasks, at most
MAX_INFLIGHT per viewer, and errors come back as replies, never as a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections import OrderedDict
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from .bus import Bus, Message, Subscription
from .control import Control, ControlError
from .paths import runtime_socket_path
from .remote_access import SOCKET_MODE, Peer, audit_user, is_allowed, peer_credentials
from .remote_wire import (
    CLOSE_TIMEOUT_S,
    MAX_ARG,
    MAX_INFLIGHT,
    MAX_LINE,
    MAX_REQUEST_LINE,
    PROTOCOL,
    VERSION,
    RemoteError,
    WireError,
    dump,
    encode_event,
    load,
    thumb_to_wire,
    to_wire,
)
from .state import CameraState

log = logging.getLogger(__name__)

VIEWER_QUEUE = 4096  # messages a viewer may fall behind before it is resynchronised
WRITE_TIMEOUT_S = 10.0  # a viewer that reads nothing this long is disconnected
HELLO_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 1.0
MAX_VIEWERS = 64
SEND_CHUNK = 256  # lines written between drains, so a full sync never floods the buffer


class _BadRequest(Exception):
    pass


class RemoteServer:
    """Serves a core's bus and control on a Unix socket. Use `await start()`/`await stop()`."""

    def __init__(
        self,
        bus: Bus,
        control: Control,
        path: Path | str,
        *,
        group: str | int | None = None,
        thumbnails: bool = True,
        queue: int = VIEWER_QUEUE,
        write_timeout: float = WRITE_TIMEOUT_S,
        max_viewers: int = MAX_VIEWERS,
    ) -> None:
        """group: give the socket to this group (members may attach); default the daemon's.
        thumbnails: False answers every thumbnail request with null (privacy "off")."""
        self.bus = bus
        self.control = control
        self.path = Path(path)
        self.group = group
        self.thumbnails = thumbnails
        self.queue = queue
        self.write_timeout = write_timeout
        self.max_viewers = max_viewers
        self.owner_uid = os.getuid()
        self.socket_gid = os.getgid()
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._viewers: set[_Viewer] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._encoded: OrderedDict[int, tuple[object, bytes | None]] = OrderedDict()

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Bind the socket (mode 0660), replacing a stale one. RemoteError if another
        daemon answers on it or it cannot be created."""
        if self._server is not None:
            return
        await _clear_stale(self.path)
        sock = _bind(self.path, self.group)
        st = os.stat(self.path)
        self._inode, self.owner_uid, self.socket_gid = st.st_ino, st.st_uid, st.st_gid
        try:
            self._server = await asyncio.start_unix_server(
                self._handle, sock=sock, limit=MAX_REQUEST_LINE
            )
        except BaseException:
            sock.close()
            self._unlink()
            raise
        log.info("serving viewers on %s", self.path)

    async def stop(self) -> None:
        """Say bye to every viewer, close them, and remove the socket file."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for viewer in list(self._viewers):
            viewer.bye("daemon stopping")
        if self._handlers:
            # Closed viewers end their handlers; cancel only those that hang.
            _, hung = await asyncio.wait(set(self._handlers), timeout=CLOSE_TIMEOUT_S)
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S)
        self._unlink()
        self._encoded.clear()

    async def __aenter__(self) -> RemoteServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _unlink(self) -> None:
        # Only our own socket: a daemon started after us may own the path now.
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()

    # --- per connection ----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._admit(reader, writer)
        except (ConnectionError, OSError) as exc:
            log.debug("viewer connection ended: %s", exc)
        except asyncio.CancelledError:
            # Only stop() cancels a handler; re-raising would make asyncio 3.11's stream
            # protocol log the cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = peer_credentials(writer.get_extra_info("socket"))
        except (OSError, AttributeError, TypeError):
            await _refuse(writer, "forbidden", "cannot read the peer's credentials")
            return
        if not is_allowed(peer.uid, peer.groups, self.owner_uid, self.socket_gid):
            log.warning("refused viewer %s (uid %d, pid %d)", peer.account, peer.uid, peer.pid)
            await _refuse(writer, "forbidden", f"user {peer.account} may not use this socket")
            return
        if len(self._viewers) >= self.max_viewers:
            await _refuse(writer, "busy", f"too many viewers (limit {self.max_viewers})")
            return
        viewer = _Viewer(self, reader, writer, peer)
        self._viewers.add(viewer)
        try:
            await viewer.run()
        finally:
            self._viewers.discard(viewer)

    def encode(self, message: object) -> bytes | None:
        """A bus message's line, encoded once for all viewers."""
        key = id(message)
        hit = self._encoded.get(key)
        if hit is not None and hit[0] is message:
            return hit[1]
        try:
            line = encode_event(message)
        except WireError as exc:
            log.warning("cannot send %s to viewers: %s", type(message).__name__, exc)
            line = None
        self._encoded[key] = (message, line)  # holding the message keeps its id unique
        if len(self._encoded) > 2 * self.queue:
            self._encoded.popitem(last=False)
        return line

    # --- requests ----------------------------------------------------------------------

    async def dispatch(self, op: str, args: dict[str, Any], viewer: _Viewer) -> Any:
        handler = getattr(self, f"_op_{op}", None) if op.isidentifier() else None
        if handler is None:
            raise _BadRequest(f"unknown operation {op!r}")
        return await handler(args, viewer)

    async def _op_acknowledge(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        alert = await self.control.acknowledge(
            _str(args, "alert_id"), viewer.user(args), _str(args, "comment", empty=True)
        )
        return to_wire(alert)

    async def _op_silence(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        silence = await self.control.silence(
            _str(args, "target_kind"),
            _str(args, "target"),
            _num(args, "duration_s"),
            _str(args, "reason", empty=True),
            viewer.user(args),
        )
        return to_wire(silence)

    async def _op_capture_baseline(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        await self.control.capture_baseline(_str(args, "camera"), viewer.user(args))
        return None

    async def _op_active_alerts(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        return to_wire(await self.control.active_alerts())

    async def _op_alert_history(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        limit = args.get("limit", 200)
        if type(limit) is not int or not 1 <= limit <= 5000:
            raise _BadRequest("limit must be an integer from 1 to 5000")
        return to_wire(await self.control.alert_history(limit))

    async def _op_thumbnail(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        camera = _str(args, "camera")
        since = args.get("since")
        if not self.thumbnails:
            return None
        sample = self.control.thumbnail(camera)
        if sample is None or sample.rgb is None:
            return None
        if since is not None and since == sample.at:
            return {"unchanged": True, "at": sample.at}  # the viewer has it: save the bytes
        try:
            return thumb_to_wire(sample)
        except WireError as exc:
            raise ControlError(f"thumbnail of {camera} cannot be sent: {exc}") from None

    async def _op_record_view(self, args: dict[str, Any], viewer: _Viewer) -> Any:
        self.control.record_view(_str(args, "camera"), viewer.user(args))
        return None


class _Viewer:
    """One attached viewer: its bus mailbox, the pump that writes it, and its requests."""

    def __init__(
        self,
        server: RemoteServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.account = peer.account
        self.claimed = ""
        self.sub: Subscription | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def user(self, args: dict[str, Any]) -> str:
        claimed = args.get("user")
        return audit_user(self.account, claimed if isinstance(claimed, str) else self.claimed)

    async def run(self) -> None:
        await self.send([dump({"t": "hello", "proto": PROTOCOL, "version": VERSION})])
        if not await self._hello():
            return
        self.sub = self.server.bus.subscribe(self.server.queue)
        try:
            await self._sync(reload=False)
            self._spawn(self._pump())
            await self._requests()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            unsubscribe = getattr(self.server.bus, "unsubscribe", None)
            if unsubscribe is not None:
                unsubscribe(self.sub)
            else:
                self.sub.close()

    def bye(self, reason: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(dump({"t": "bye", "reason": reason}))
            self.writer.close()

    async def send(self, lines: list[bytes]) -> None:
        """Write lines in chunks; a viewer that does not read for write_timeout is dropped."""
        async with self._lock:
            for i in range(0, len(lines), SEND_CHUNK):
                self.writer.write(b"".join(lines[i : i + SEND_CHUNK]))
                try:
                    await asyncio.wait_for(self.writer.drain(), self.server.write_timeout)
                except TimeoutError:
                    log.warning("viewer %s stopped reading: disconnected", self.account)
                    self.writer.transport.abort()
                    raise ConnectionError("viewer stopped reading") from None

    async def _hello(self) -> bool:
        try:
            line = await asyncio.wait_for(self.reader.readline(), HELLO_TIMEOUT_S)
            hello = load(line)
        except (TimeoutError, ValueError):
            await _refuse(self.writer, "protocol", "expected a hello line")
            return False
        if hello.get("t") != "hello" or hello.get("version") != VERSION:
            await _refuse(
                self.writer,
                "version",
                f"this daemon speaks {PROTOCOL} protocol version {VERSION}, "
                f"the viewer sent {hello.get('version')!r}",
            )
            return False
        user = hello.get("user")
        self.claimed = user[:64] if isinstance(user, str) else ""
        return True

    async def _sync(self, reload: bool) -> None:
        states = self.server.bus.states()
        lines = [line for st in states.values() if (line := self.server.encode(st))]
        lines.append(dump({"t": "sync", "names": list(states), "reload": reload}))
        await self.send(lines)

    async def _pump(self) -> None:
        sub = self.sub
        assert sub is not None
        seen = sub.dropped
        try:
            while True:
                try:
                    first = await sub.get()
                except StopAsyncIteration:
                    return
                batch = [first, *sub.get_nowait()]
                if sub.dropped != seen:
                    # Fell behind: events still go out, states come from the snapshot.
                    seen = sub.dropped
                    await self._send_messages([m for m in batch if not _is_state(m)])
                    await self._sync(reload=True)
                else:
                    await self._send_messages(_coalesce(batch))
        except ConnectionError:
            return
        except Exception:
            log.exception("viewer %s: sending failed", self.account)
            self.writer.transport.abort()

    async def _send_messages(self, messages: list[Message]) -> None:
        lines = [line for m in messages if (line := self.server.encode(m))]
        if lines:
            await self.send(lines)

    async def _requests(self) -> None:
        while True:
            try:
                line = await self.reader.readline()
            except ValueError:
                await _refuse(self.writer, "protocol", f"request over {MAX_REQUEST_LINE} bytes")
                return
            if not line.endswith(b"\n"):
                return  # end of stream
            try:
                message = load(line)
            except WireError as exc:
                await self.send([dump({"t": "error", "code": "protocol", "error": str(exc)})])
                continue
            if message["t"] == "call":
                await self._call(message)
            elif message["t"] == "bye":
                return

    async def _call(self, message: dict[str, Any]) -> None:
        cid = message.get("id")
        if cid is not None and type(cid) is not int:
            await self.send([dump({"t": "error", "code": "protocol", "error": "bad call id"})])
            return
        if len(self._tasks) > MAX_INFLIGHT:
            await self._reply(cid, {"ok": False, "error": "too many requests at once"})
            return
        self._spawn(self._answer(cid, message.get("op"), message.get("args")))

    async def _answer(self, cid: int | None, op: object, args: object) -> None:
        try:
            if not isinstance(op, str) or not isinstance(args, dict | None):
                raise _BadRequest("a call needs a string op and an args object")
            value = await self.server.dispatch(op, args or {}, self)
            reply: dict[str, Any] = {"ok": True, "v": value}
        except ControlError as exc:
            reply = {"ok": False, "error": str(exc)}
        except _BadRequest as exc:
            reply = {"ok": False, "error": f"bad request: {exc}"}
        except Exception as exc:  # the daemon stays up; the viewer is told
            log.exception("viewer %s: %s failed", self.account, op)
            reply = {"ok": False, "error": f"daemon error in {op}: {type(exc).__name__}"}
        await self._reply(cid, reply)

    async def _reply(self, cid: int | None, reply: dict[str, Any]) -> None:
        if cid is None:
            return  # a notification (record_view): nobody waits
        line = dump({"t": "reply", "id": cid, **reply})
        if len(line) > MAX_LINE:
            line = dump({"t": "reply", "id": cid, "ok": False, "error": "reply too large"})
        with contextlib.suppress(ConnectionError):
            await self.send([line])

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _is_state(message: object) -> bool:
    return isinstance(message, CameraState)


def _coalesce(batch: list[Message]) -> list[Message]:
    """Keep only the newest state of each camera in a batch; every event stays."""
    last = {m.name: i for i, m in enumerate(batch) if isinstance(m, CameraState)}
    return [m for i, m in enumerate(batch) if not isinstance(m, CameraState) or last[m.name] == i]


def _str(args: dict[str, Any], key: str, empty: bool = False) -> str:
    value = args.get(key, "" if empty else None)
    if not isinstance(value, str) or (not value and not empty):
        raise _BadRequest(f"{key} must be a non-empty string")
    return value[:MAX_ARG]


def _num(args: dict[str, Any], key: str) -> float:
    value = args.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest(f"{key} must be a number")
    return float(value)


async def _refuse(writer: asyncio.StreamWriter, code: str, message: str) -> None:
    """One error line, then the connection closes."""
    if writer.is_closing():
        return
    writer.write(dump({"t": "error", "code": code, "error": message}))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.drain(), CLOSE_TIMEOUT_S)
    writer.close()


async def _clear_stale(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise RemoteError(f"{path} exists and is not a socket: not replacing it")
    if await _answers(path):
        raise RemoteError(f"another camwatch daemon is already serving on {path}")
    _remove(path)
    log.info("removed stale socket %s", path)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _answers(path: Path) -> bool:
    """Whether something accepts connections on the socket at `path`."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), PROBE_TIMEOUT_S)
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except PermissionError:
        raise RemoteError(f"{path} belongs to another user's daemon: not replacing it") from None
    except TimeoutError:
        return True  # accepting but hung: still not ours to remove
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
    return True


def _bind(path: Path, group: str | int | None) -> socket.socket:
    """A listening socket at `path`, created 0660 (never briefly wider) and given `group`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o777 & ~SOCKET_MODE)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, SOCKET_MODE)
        if group is not None:
            os.chown(path, -1, _gid(group))
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise RemoteError(f"cannot create the daemon socket {path}: {exc}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def _gid(group: str | int) -> int:
    if isinstance(group, int):
        return group
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise RemoteError(f"unknown group {group!r} for the daemon socket") from None


def serve(bus: Bus, control: Control, path: Path | str | None = None, **opts: Any) -> RemoteServer:
    """A server for this core on `path` (default: paths.runtime_socket_path()); call
    `await server.start()`. Options: see RemoteServer."""
    return RemoteServer(bus, control, path if path is not None else runtime_socket_path(), **opts)
