"""Cameras spread over worker processes: one event loop and decode pool each.

One Python process watches a few hundred cameras before its event loop and
the GIL become the limit; a city's fleet is split across shard processes
(`python -m camwatch.shard`, one per core by default), each running an
ordinary in-process Fleet over its share. The parent keeps the one bus the
front ends, rule engine and store subscribe to: every shard forwards its bus
messages (camera states, status changes, its FleetHealth) in batches over a
socketpair, the latest state per camera only, so the parent sees one fleet.

Wire: 4-byte big-endian length, then a pickle (both ends are this package;
the socket is a private socketpair, never a network port). Parent to shard:
("start", ShardSpec), ("reload", configs, removed, baselines),
("want", names), ("call", id, what, name), ("stop",). Shard to parent:
("bus", [messages]), ("frame", FrameSample), ("reply", id, ok, value).

Thumbnails: a shard ships a camera's samples only while the parent was asked
for that camera's latest frame recently (a viewer is looking), so 1000
cameras do not push 40 KB pictures twice a second through the pipes.
A shard that dies is restarted after a delay; its cameras read "offline:
internal error" meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import itertools
import logging
import os
import pickle
import resource
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .bus import Bus, LocalBus
from .camera import MonitorSettings
from .config import CameraConfig, Inventory
from .fleethealth import FleetHealth
from .state import CameraState, FrameSample, Status

log = logging.getLogger("camwatch.shard")

_LEN = struct.Struct("!I")
MAX_MESSAGE = 64 << 20
FORWARD_EVERY = 0.1  # s: a shard batches its bus messages this long at most
WANT_FOR = 30.0  # s a latest_frame() request keeps a camera's thumbnails coming
RESTART_AFTER = 5.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CALL_TIMEOUT = 15.0
SWITCH_INTERVAL = 0.001  # s: see main()


class ShardError(RuntimeError):
    pass


@dataclass(frozen=True)
class ShardSpec:
    """What a shard runs: its cameras and how."""

    cameras: tuple[CameraConfig, ...]
    settings: MonitorSettings
    analysis: bool
    baselines: dict[str, bytes] = field(default_factory=dict)
    workers: int | None = None
    decode_budget: float | None = None
    max_connecting: int = 32


# --------------------------------------------------------------------------- wire


async def read_message(reader: asyncio.StreamReader) -> Any:
    head = await reader.readexactly(_LEN.size)
    (size,) = _LEN.unpack(head)
    if size > MAX_MESSAGE:
        raise ShardError(f"message of {size} bytes from a shard (limit {MAX_MESSAGE})")
    return pickle.loads(await reader.readexactly(size))


def write_message(writer: asyncio.StreamWriter, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_LEN.pack(len(data)) + data)


# --------------------------------------------------------------------------- parent


class ShardCamera:
    """What the parent knows of a camera run by a shard (fleet.monitors[name])."""

    def __init__(self, config: CameraConfig, shard: Shard) -> None:
        self.config = config
        self.shard = shard
        self.state = CameraState(
            name=config.name, url=config.display_url(), site=config.site, tags=config.tags
        )
        self.latest_sample: FrameSample | None = None


class ShardHook:
    """Stands for a camera's analysis hook, which lives in its shard."""

    def __init__(self, name: str, shard: Shard, baseline: Any = None) -> None:
        self.name = name
        self.shard = shard
        self._baseline = baseline

    @property
    def baseline(self) -> Any:
        return self._baseline

    def capture_baseline(self) -> Any:
        """Blocking (call it from a thread, as the core does)."""
        from .analysis.baseline import Baseline

        data = self.shard.call_threadsafe("capture", self.name)
        self._baseline = Baseline.from_bytes(data)
        return self._baseline


class Shard:
    """One worker process, seen from the parent."""

    def __init__(self, index: int, bus: Bus, on_health: Callable[[int, FleetHealth], None]) -> None:
        self.index = index
        self.bus = bus
        self.on_health = on_health
        self.cameras: dict[str, ShardCamera] = {}
        self.proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.exited: asyncio.Event = asyncio.Event()
        self.stopping = False

    async def start(self, spec: ShardSpec) -> None:
        self._loop = asyncio.get_running_loop()
        self.exited.clear()
        ours, theirs = socket.socketpair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "camwatch.shard",
                "--fd",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl+C reaches the parent, which stops us in order
            )
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours, limit=MAX_MESSAGE)
        write_message(self._writer, ("start", spec))
        await self._writer.drain()
        self._reader_task = asyncio.create_task(self._read(reader), name=f"shard-{self.index}")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                self._handle(await read_message(reader))
        except (asyncio.IncompleteReadError, ConnectionError, ShardError, pickle.PickleError) as e:
            if not self.stopping:
                log.error("shard %d: connection lost: %r", self.index, e)
        finally:
            self._closed()

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "bus":
            for m in msg[1]:
                if isinstance(m, CameraState):
                    cam = self.cameras.get(m.name)
                    if cam is None:
                        continue  # removed by a reload in the meantime
                    cam.state = m
                elif isinstance(m, FleetHealth):
                    self.on_health(self.index, m)
                    continue
                self.bus.publish(m)
        elif kind == "frame":
            cam = self.cameras.get(msg[1].camera)
            if cam is not None:
                cam.latest_sample = msg[1]
        elif kind == "reply":
            fut = self._calls.pop(msg[1], None)
            if fut is not None and not fut.done():
                if msg[2]:
                    fut.set_result(msg[3])
                else:
                    fut.set_exception(ShardError(msg[3]))

    def _closed(self) -> None:
        for fut in self._calls.values():
            if not fut.done():
                fut.set_exception(ShardError("the shard process exited"))
        self._calls.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.exited.set()

    def send(self, *message: Any) -> None:
        if self._writer is not None and not self._writer.is_closing():
            write_message(self._writer, message)

    async def call(self, what: str, name: str | None = None) -> Any:
        if self._writer is None:
            raise ShardError(f"shard {self.index} is not running")
        assert self._loop is not None
        call_id = next(self._ids)
        fut = self._loop.create_future()
        self._calls[call_id] = fut
        self.send("call", call_id, what, name)
        try:
            return await asyncio.wait_for(fut, CALL_TIMEOUT)
        finally:
            self._calls.pop(call_id, None)

    def call_threadsafe(self, what: str, name: str) -> Any:
        if self._loop is None:
            raise ShardError("the shard was never started")
        if threading.current_thread() is threading.main_thread() and self._loop.is_running():
            raise ShardError("call_threadsafe would block the event loop: use a thread")
        coro = self.call(what, name)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT + 5)

    async def stop(self) -> None:
        self.stopping = True
        with contextlib.suppress(Exception):
            self.send("stop")
            if self._writer is not None:
                await asyncio.wait_for(self._writer.drain(), 5)
        proc = self.proc
        if proc is not None:
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("shard %d did not stop in %g s: killed", self.index, STOP_TIMEOUT)
                proc.kill()
                await proc.wait()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self._closed()

    def pids(self) -> list[int]:
        running = self.proc is not None and self.proc.returncode is None
        return [self.proc.pid] if running and self.proc is not None else []


def split(cameras: Iterable[CameraConfig], shards: int) -> list[list[CameraConfig]]:
    """Round-robin: neighbours in the inventory (often one site) spread out."""
    parts: list[list[CameraConfig]] = [[] for _ in range(shards)]
    for i, cam in enumerate(cameras):
        parts[i % shards].append(cam)
    return parts


# --------------------------------------------------------------------------- shard


class _Child:
    """The shard process: an ordinary Fleet whose bus is forwarded to the parent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.bus = LocalBus()
        self.fleet: Any = None
        self.spec: ShardSpec | None = None
        self.wanted: set[str] = set()

    async def run(self) -> None:
        from .fleet import Fleet

        first = await read_message(self.reader)
        if first[0] != "start":
            raise ShardError(f"expected start, got {first[0]!r}")
        spec: ShardSpec = first[1]
        self.spec = spec
        inventory = Inventory(path=None, cameras=spec.cameras)
        self.fleet = Fleet(
            inventory,
            self.bus,
            settings=spec.settings,
            hook_factory=self._hook if spec.analysis else None,
            workers=spec.workers,
            max_connecting=spec.max_connecting,
            on_sample=self._on_sample,
            decode_budget=spec.decode_budget,
        )
        sub = self.bus.subscribe(1 << 16)
        forward = asyncio.create_task(self._forward(sub))
        await self.fleet.start()
        # Everything built so far lives as long as the shard: out of the
        # collector's sight, a full collection no longer walks a few hundred
        # cameras' objects (those pauses were the loop's worst lag).
        gc.collect()
        gc.freeze()
        try:
            await self._commands()
        finally:
            await self.fleet.stop()
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forward
            self._flush(sub.get_nowait())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.drain(), 5)

    def _hook(self, cfg: CameraConfig) -> Any:
        from .analysis.baseline import Baseline
        from .imaging import AnalysisHook

        data = self.spec.baselines.get(cfg.name) if self.spec else None
        baseline = None
        if data:
            try:
                baseline = Baseline.from_bytes(data)
            except (ValueError, KeyError, OSError) as exc:
                log.warning("camera %s: baseline unreadable (%s): relearning", cfg.name, exc)
        return AnalysisHook(cfg, baseline)

    def _on_sample(self, monitor: Any, result: Any) -> None:
        if monitor.target.name in self.wanted:
            with contextlib.suppress(Exception):
                write_message(self.writer, ("frame", result.sample))

    async def _forward(self, sub: Any) -> None:
        while True:
            await asyncio.sleep(FORWARD_EVERY)
            self._flush(sub.get_nowait())
            await self.writer.drain()

    def _flush(self, messages: list[Any]) -> None:
        if not messages:
            return
        # Only the newest state of each camera matters; events keep their order.
        last = {m.name: i for i, m in enumerate(messages) if isinstance(m, CameraState)}
        batch = [
            m for i, m in enumerate(messages) if not isinstance(m, CameraState) or last[m.name] == i
        ]
        write_message(self.writer, ("bus", batch))

    async def _commands(self) -> None:
        while True:
            try:
                msg = await read_message(self.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the parent is gone: stop
            kind = msg[0]
            if kind == "stop":
                return
            if kind == "want":
                self.wanted = set(msg[1])
            elif kind == "reload":
                await self._reload(msg[1], msg[2], msg[3])
            elif kind == "call":
                self._reply(msg[1], *self._call(msg[2], msg[3]))

    async def _reload(
        self, configs: tuple[CameraConfig, ...], removed: list[str], baselines: dict[str, bytes]
    ) -> None:
        assert self.spec is not None
        self.spec.baselines.update(baselines)
        current = {c.name: c for c in self.fleet.inventory.cameras if c.name not in removed}
        current.update({c.name: c for c in configs})
        await self.fleet.reload(Inventory(path=None, cameras=tuple(current.values())))

    def _call(self, what: str, name: str | None) -> tuple[bool, Any]:
        try:
            if what == "capture":
                return True, self.fleet.hooks[name].capture_baseline().to_bytes()
            if what == "baselines":
                return True, {
                    n: h.baseline.to_bytes()
                    for n, h in self.fleet.hooks.items()
                    if h is not None and h.baseline is not None
                }
            return False, f"unknown call {what!r}"
        except KeyError:
            return False, f"no image analysis for camera {name!r}"
        except Exception as exc:  # reported to the caller, the shard goes on
            return False, str(exc) or type(exc).__name__

    def _reply(self, call_id: int, ok: bool, value: Any) -> None:
        write_message(self.writer, ("reply", call_id, ok, value))


async def _child_main(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock, limit=MAX_MESSAGE)
    loop = asyncio.get_running_loop()
    child = _Child(reader, writer)
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await child.run()
    writer.close()
    return 0


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536)
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m camwatch.shard")
    ap.add_argument("--fd", type=int, required=True, help="socket to the parent (inherited)")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format=f"camwatch shard {os.getpid()}: %(levelname)s %(message)s"
    )
    _raise_fd_limit()
    # The loop waits for the GIL whenever a decode thread runs image analysis
    # (numpy at 320x180 is mostly interpreter time): ask for it back sooner
    # than the default 5 ms.
    sys.setswitchinterval(SWITCH_INTERVAL)
    runner = _loop_runner()
    return runner(_child_main(args.fd))


def _loop_runner() -> Callable[[Any], int]:
    """uvloop when installed (its reads cost less per camera), else asyncio."""
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return asyncio.run
    return uvloop.run  # type: ignore[no-any-return]


def restart_delay() -> float:
    return RESTART_AFTER


def offline(state: CameraState, reason: str) -> CameraState:
    return dataclasses.replace(
        state, status=Status.OFFLINE, reason=reason, since=time.time(), updated=time.time()
    )


if __name__ == "__main__":
    sys.exit(main())
