"""The fleet: every camera's monitor, owned as tasks, sharing one decode pool.

The fleet is the only owner of camera tasks: `stop()` cancels and awaits them
all (each closes its session with a bounded TEARDOWN). Connection attempts go
through a semaphore so 200 cameras coming back after an outage are set up a
few dozen at a time, on top of each camera's jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .bus import Bus
from .camera import CameraMonitor, MonitorSettings
from .config import CameraConfig, Inventory
from .decode import DecodePool
from .pipeline import FrameHook, Sampled
from .state import FrameSample, Status
from .targets import settings_of, target_of

log = logging.getLogger("camwatch.fleet")

HookFactory = Callable[[CameraConfig], FrameHook | None]


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Fleet:
    def __init__(
        self,
        inventory: Inventory,
        bus: Bus,
        *,
        settings: MonitorSettings = MonitorSettings(),
        hook_factory: HookFactory | None = None,
        workers: int | None = None,
        max_connecting: int = 32,
        on_sample: Callable[[CameraMonitor, Sampled], None] | None = None,
    ) -> None:
        self.inventory = inventory
        self.bus = bus
        self.settings = settings
        self.hook_factory = hook_factory
        self.pool = DecodePool(workers or default_workers())
        self.gate = asyncio.Semaphore(max_connecting)
        self.on_sample = on_sample
        self.monitors: dict[str, CameraMonitor] = {}
        self.configs: dict[str, CameraConfig] = {}
        self.hooks: dict[str, Any] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        for cfg in self.inventory.cameras:
            if cfg.enabled:
                self._start_camera(cfg)

    def _start_camera(self, cfg: CameraConfig) -> None:
        hook = self.hook_factory(cfg) if self.hook_factory else None
        monitor = CameraMonitor(
            target_of(cfg),
            self.bus,
            self.pool,
            settings_of(cfg, self.settings),
            frame_hook=hook,
            connect_gate=self.gate,
            on_sample=self.on_sample,
        )
        self.monitors[cfg.name] = monitor
        self.configs[cfg.name] = cfg
        self.hooks[cfg.name] = hook
        self.bus.publish(monitor.state)
        task = asyncio.create_task(monitor.run(), name=f"camera:{cfg.name}")
        task.add_done_callback(lambda t, name=cfg.name: self._task_done(name, t))
        self._tasks[cfg.name] = task

    def _task_done(self, name: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A bug in one camera's path must not take the fleet down: report
            # it on that camera and restart its monitor.
            log.error("camera %s: monitor crashed: %r", name, exc)
            monitor = self.monitors.get(name)
            if monitor is not None and self._tasks.get(name) is task:
                monitor.state = replace(
                    monitor.state, status=Status.OFFLINE, reason=f"internal error: {exc!r}"
                )
                self.bus.publish(monitor.state)
                cfg = self.configs[name]
                loop = asyncio.get_running_loop()
                loop.call_later(5.0, self._restart_if_current, name, task, cfg)

    def _restart_if_current(self, name: str, task: asyncio.Task[None], cfg: CameraConfig) -> None:
        if self._tasks.get(name) is task:
            self._start_camera(cfg)

    async def _stop_camera(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        monitor = self.monitors.pop(name, None)
        self.configs.pop(name, None)
        self.hooks.pop(name, None)
        if monitor is not None:
            monitor.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stop(self) -> None:
        names = list(self._tasks)
        await asyncio.gather(*(self._stop_camera(n) for n in names))
        await asyncio.to_thread(self.pool.shutdown)

    async def reload(self, inventory: Inventory) -> dict[str, list[str]]:
        """Apply a new inventory; cameras whose config did not change keep
        their sessions (a SIGHUP must not drop healthy streams)."""
        new = {c.name: c for c in inventory.cameras if c.enabled}
        removed = [n for n in self.configs if n not in new]
        changed = [n for n, c in new.items() if n in self.configs and self.configs[n] != c]
        added = [n for n in new if n not in self.configs]
        for name in removed + changed:
            await self._stop_camera(name)
        for name in changed + added:
            self._start_camera(new[name])
        self.inventory = inventory
        return {"added": added, "removed": removed, "changed": changed}

    def latest_frame(self, name: str) -> FrameSample | None:
        monitor = self.monitors.get(name)
        return monitor.latest_sample if monitor else None
