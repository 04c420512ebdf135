"""The fleet: every camera's monitor, owned as tasks, sharing one decode pool.

The fleet is the only owner of camera tasks: `stop()` cancels and awaits them
all (each closes its session with a bounded TEARDOWN). Connection attempts go
through a semaphore so 200 cameras coming back after an outage are set up a
few dozen at a time, on top of each camera's jittered backoff.

Load: the decode pool has a budget (by default every core but one) so that
when keyframes come faster than the CPU can decode them, every camera is
still sampled in turn, less often, and the event loop keeps a core; a
governor lowers that budget further while the loop lags (fleethealth.Governor).
Every HEALTH_INTERVAL the fleet publishes a FleetHealth on the bus that says
how often cameras are really sampled, against their schedule, and why not.

With `shards` > 1 the cameras run in that many worker processes (see
camwatch.shard): `monitors`, `hooks` and `latest_frame` then hold stand-ins
for what lives in the shards, and the bus carries their states as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .bus import Bus
from .camera import CameraMonitor, MonitorSettings
from .config import CameraConfig, Inventory
from .decode import DecodePool
from .fleethealth import FleetHealth, Governor, HealthMeter, LagProbe, merge
from .pipeline import FrameHook, Sampled
from .state import FrameSample, Status
from .targets import settings_of, target_of

log = logging.getLogger("camwatch.fleet")

HookFactory = Callable[[CameraConfig], FrameHook | None]
HEALTH_INTERVAL = 5.0  # s between two FleetHealth messages
GOVERN_EVERY = 1.0  # s between two steps of the decode budget's governor
GOVERN_WINDOW = 100  # lag probes (5 s) the governor looks at
AUTO = "auto"


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def workers_for(budget: float | None) -> int:
    """Decode threads for a budget: one per budgeted core. More would not
    decode more, only contend for the GIL that the event loop needs (with two
    threads on a one-core budget the loop's worst lag tripled)."""
    if budget is None:
        return default_workers()
    return max(1, min(default_workers(), math.ceil(budget - 1e-9)))


def default_budget() -> float:
    """Cores the decode threads may use: all but one, so the loop keeps one."""
    return max(0.5, float((os.cpu_count() or 1) - 1))


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
        decode_budget: float | str | None = AUTO,
        shards: int = 1,
    ) -> None:
        """decode_budget: cores for decoding and analysis, over all shards
        ("auto": every core but one; None: no cap). shards: worker processes
        (1: everything in this process; a fleet with on_sample stays in it)."""
        self.inventory = inventory
        self.bus = bus
        self.settings = settings
        self.hook_factory = hook_factory
        self.workers = workers
        self.max_connecting = max_connecting
        self.decode_budget = default_budget() if decode_budget == AUTO else decode_budget
        self.shards = shards
        budget = self._budget(1)
        self.pool = DecodePool(workers or workers_for(budget), budget=budget)
        self.gate = asyncio.Semaphore(max_connecting)
        self.on_sample = on_sample
        self.monitors: dict[str, Any] = {}  # CameraMonitor, or ShardCamera when sharded
        self.configs: dict[str, CameraConfig] = {}
        self.hooks: dict[str, Any] = {}
        self.health: FleetHealth | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._lag = LagProbe(on_beat=self._beat)
        self._meter = HealthMeter()
        self._background: list[asyncio.Task[None]] = []
        self._governor: Governor | None = None
        self._sharded: Any = None  # camwatch.shard glue when running shards

    def _budget(self, processes: int) -> float | None:
        b = self.decode_budget
        return None if b is None else float(b) / processes  # type: ignore[arg-type]

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._meter.seed(self.pool.figures())
        self._background = [
            asyncio.create_task(self._lag.run(), name="fleet-lag-probe"),
            asyncio.create_task(self._health_loop(), name="fleet-health"),
        ]
        cameras = [c for c in self.inventory.cameras if c.enabled]
        if self.shards > 1 and self.on_sample is None and cameras:
            from .shardfleet import ShardedCameras

            sharded = ShardedCameras(self)
            if await sharded.start(cameras):
                self._sharded = sharded
                return  # each shard governs its own decoding
        if self.pool.budget is not None:
            self._governor = Governor(self.pool.budget)
            self._background.append(asyncio.create_task(self._govern(), name="fleet-governor"))
        for cfg in cameras:
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
        if self._sharded is not None:
            await self._sharded.stop()
        names = list(self._tasks)
        await asyncio.gather(*(self._stop_camera(n) for n in names))
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        await asyncio.to_thread(self.pool.shutdown)

    async def reload(self, inventory: Inventory) -> dict[str, list[str]]:
        """Apply a new inventory; cameras whose config did not change keep
        their sessions (a SIGHUP must not drop healthy streams)."""
        new = {c.name: c for c in inventory.cameras if c.enabled}
        removed = [n for n in self.configs if n not in new]
        changed = [n for n, c in new.items() if n in self.configs and self.configs[n] != c]
        added = [n for n in new if n not in self.configs]
        if self._sharded is not None:
            await self._sharded.reload(new, removed, changed, added)
        else:
            for name in removed + changed:
                await self._stop_camera(name)
            for name in changed + added:
                self._start_camera(new[name])
        self.inventory = inventory
        return {"added": added, "removed": removed, "changed": changed}

    def latest_frame(self, name: str) -> FrameSample | None:
        if self._sharded is not None:
            return self._sharded.latest_frame(name)
        monitor = self.monitors.get(name)
        return monitor.latest_sample if monitor else None

    # -- load ----------------------------------------------------------------------
    def _beat(self, now: float) -> None:
        self.pool.loop_beat = now  # decode threads hold back analysis while the loop is late

    async def _govern(self) -> None:
        governor = self._governor
        assert governor is not None
        while True:
            await asyncio.sleep(GOVERN_EVERY)
            budget = governor.step(self._lag.recent(GOVERN_WINDOW, 90))
            if budget != self.pool.budget:
                self.pool.set_budget(budget)

    # -- health ------------------------------------------------------------------
    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            try:
                self._publish_health()
            except Exception:  # figures about the fleet must never stop it
                log.exception("fleet health figures failed")

    def _publish_health(self) -> None:
        if self._sharded is not None:
            parts = self._sharded.health_parts()
            if not parts:
                return
            health = merge(parts, self._lag.percentiles())
            self._sharded.expire_wanted()
        else:
            health = self._measure()
        # Front ends say when an overload starts and ends (the daemon's log, the
        # headless summary, the TUI): the core only publishes.
        self.health = health
        self.bus.publish(health)

    def _measure(self) -> FleetHealth:
        periods = []
        live = 0
        for monitor in self.monitors.values():
            sampling = monitor.sampling()
            if sampling is not None:
                live += 1
                periods.append(sampling)
        return self._meter.measure(
            cameras=len(self.monitors),
            live=live,
            periods=periods,
            pool=self.pool.figures(),
            lag=self._lag.percentiles(),
            budget_max=self._governor.ceiling if self._governor else None,
        )

    def shard_pids(self) -> list[int]:
        """Worker processes running cameras (empty when not sharded)."""
        return self._sharded.pids() if self._sharded is not None else []
