"""The in-process core: fleet, image analysis, rules, history and notifications
behind one bus (states and events) and one Control (user actions).

Front ends never reach past these two: the TUI, the daemon's Unix socket, the
headless summary and the metrics endpoint all take a `Bus` and a `Control`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .alerts.model import Alert, Silence
from .alerts.notify import Notifier
from .alerts.rules import RuleEngine, UnknownAlertError
from .bus import LocalBus
from .camera import MonitorSettings
from .config import CameraConfig, Inventory
from .control import TARGET_KINDS, ControlError
from .fleet import Fleet
from .fleethealth import FleetHealth
from .imaging import AnalysisHook
from .monitor import Monitor
from .state import FrameSample
from .store.db import Store

log = logging.getLogger("camwatch.core")

PIXELATE_BLOCKS = 12  # columns of the privacy mosaic
# From this many cameras on, one process's event loop and GIL are the limit
# (bench/RESULTS.md: 500 cameras lagged in one process), so "auto" shards.
SHARD_FROM = 300


@dataclass(frozen=True, slots=True)
class CoreOptions:
    store: bool = True
    db_path: Path | None = None  # None: [store] path in the inventory, else the XDG default
    notify: bool = True
    analysis: bool = True
    workers: int | None = None
    settings: MonitorSettings = MonitorSettings()
    shards: int | None = None  # processes running cameras; None: auto_shards()

    def __post_init__(self) -> None:
        if self.shards is not None and self.shards < 1:
            raise ValueError(f"shards must be at least 1, got {self.shards}")


def auto_shards(cameras: int, cpus: int | None = None) -> int:
    """One process below SHARD_FROM cameras, else one shard per core."""
    if cameras < SHARD_FROM:
        return 1
    return max(1, cpus if cpus is not None else os.cpu_count() or 1)


class Core:
    def __init__(self, inventory: Inventory, options: CoreOptions = CoreOptions()) -> None:
        self.inventory = inventory
        self.options = options
        self.bus = LocalBus()
        self.store: Store | None = None
        self.engine = RuleEngine(inventory.sections.get("rules"), inventory.cameras)
        self.notifier: Notifier | None = None
        self.monitor: Monitor | None = None
        self.fleet = Fleet(
            inventory,
            self.bus,
            settings=options.settings,
            hook_factory=self._hook_for if options.analysis else None,
            workers=options.workers,
            shards=options.shards or auto_shards(sum(c.enabled for c in inventory.cameras)),
        )
        self.control = CoreControl(self)
        self._baselines: dict[str, bytes] = {}
        self._saved: dict[str, object] = {}

    async def __aenter__(self) -> Core:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.options.store:
            section = self.inventory.sections.get("store", {})
            path = self.options.db_path or section.get("path")
            retention = float(section.get("retention_days", 30))
            flush = float(section.get("flush_interval", 1.0))
            self.store = await Store.open(path, retention_days=retention, flush_interval=flush)
            for cam in self.inventory.cameras:
                data = await self.store.load_baseline(cam.name)
                if data:
                    self._baselines[cam.name] = data
        if self.options.notify and self.inventory.sections.get("notify"):
            self.notifier = Notifier(self.inventory.sections.get("notify"))
        self.monitor = Monitor(self.bus, self.engine, self.store, self.notifier)
        await self.monitor.start()
        await self.fleet.start()
        # What is built by now (modules, inventory, monitors) lives as long as
        # the core: out of the collector's sight, a full collection no longer
        # walks it (as shards do; a full pass over it was a ~50 ms loop pause).
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        gc.unfreeze()  # what this core froze may be garbage once it stops
        await self.fleet.stop()
        await self._save_baselines()
        if self.monitor is not None:
            await self.monitor.stop()
        if self.store is not None:
            await self.store.close()
        self.bus.close()

    async def reload(self, inventory: Inventory) -> dict[str, list[str]]:
        changes = await self.fleet.reload(inventory)
        self.inventory = inventory
        if self.monitor is not None:
            self.monitor.reload(inventory.sections.get("rules"), inventory.cameras)
            self.monitor.audit("config_reload", str(inventory.path or ""), _summary(changes))
        return changes

    def fleet_health(self) -> FleetHealth | None:
        """The fleet's latest figures, as last published on the bus (merged over
        the shards when sharded); None until the first, HEALTH_INTERVAL after start."""
        return self.fleet.health

    # -- analysis --------------------------------------------------------------------
    def _hook_for(self, cfg: CameraConfig) -> AnalysisHook:
        from .analysis.baseline import Baseline

        baseline = None
        data = self._baselines.get(cfg.name)
        if data:
            try:
                baseline = Baseline.from_bytes(data)
            except (ValueError, KeyError, OSError) as exc:
                log.warning("camera %s: stored baseline unreadable (%s): relearning", cfg.name, exc)
        hook = AnalysisHook(cfg, baseline)
        self._saved[cfg.name] = baseline
        return hook

    async def _save_baselines(self) -> None:
        """Persist baselines learned or refreshed since start (restarts keep them)."""
        if self.store is None:
            return
        for name, hook in list(self.fleet.hooks.items()):
            b = getattr(hook, "baseline", None)
            if b is not None and b is not self._saved.get(name):
                with contextlib.suppress(Exception):
                    await self.store.save_baseline(name, b.to_bytes(), user="camwatch")
                    self._saved[name] = b


class CoreControl:
    """Control implemented on the core's monitor, fleet and store."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _monitor(self) -> Monitor:
        if self.core.monitor is None:
            raise ControlError("camwatch is not running yet")
        return self.core.monitor

    async def acknowledge(self, alert_id: str, user: str, comment: str) -> Alert:
        try:
            return self._monitor().ack(alert_id, user, comment).alert
        except (UnknownAlertError, KeyError):
            raise ControlError(f"no open alert {alert_id}") from None

    async def silence(
        self, target_kind: str, target: str, duration_s: float, reason: str, user: str
    ) -> Silence:
        if target_kind not in TARGET_KINDS:
            raise ControlError(f"cannot silence a {target_kind!r}: use camera, site or tag")
        if duration_s <= 0:
            raise ControlError("a silence needs a positive duration")
        now = time.time()
        s = Silence(None, target_kind, target, now, now + duration_s, reason, user)
        try:
            return await self._monitor().silence(s)
        except ValueError as exc:
            raise ControlError(str(exc)) from None

    async def capture_baseline(self, camera: str, user: str) -> None:
        hook = self.core.fleet.hooks.get(camera)
        if hook is None:
            raise ControlError(f"no image analysis for camera {camera!r}")
        try:
            baseline = await asyncio.to_thread(hook.capture_baseline)
        except RuntimeError as exc:
            raise ControlError(str(exc)) from None
        store = self.core.store
        if store is not None:
            await store.save_baseline(camera, baseline.to_bytes(), user=user)
            self.core._saved[camera] = baseline
        else:
            self._monitor().audit("baseline", f"camera:{camera}", "", user)

    def thumbnail(self, camera: str) -> FrameSample | None:
        cfg = self.core.fleet.configs.get(camera)
        if cfg is None or cfg.thumbnails == "off":
            return None
        sample = self.core.fleet.latest_frame(camera)
        if sample is None or sample.rgb is None:
            return None
        if cfg.thumbnails == "pixelate":
            sample = replace(sample, rgb=pixelate(sample.rgb, PIXELATE_BLOCKS))  # type: ignore[arg-type]
        return sample

    def record_view(self, camera: str, user: str) -> None:
        if self.core.monitor is not None:
            self.core.monitor.audit("thumbnail_view", f"camera:{camera}", "", user)

    async def active_alerts(self) -> list[Alert]:
        return [a for a in self.core.engine.alerts()]

    async def alert_history(self, limit: int = 200) -> list[Alert]:
        if self.core.store is not None:
            return await self.core.store.alerts(limit=limit)
        return sorted(self.core.engine.alerts(), key=lambda a: -a.raised)[:limit]


def pixelate(rgb: np.ndarray, blocks: int) -> np.ndarray:
    """A coarse mosaic: the detail never leaves the core, not even to a viewer."""
    h, w = rgb.shape[:2]
    bw = max(1, w // blocks)
    bh = max(1, bw)
    hh, ww = (h // bh) * bh, (w // bw) * bw
    if hh == 0 or ww == 0:
        return rgb
    small = rgb[:hh, :ww].reshape(hh // bh, bh, ww // bw, bw, -1).mean(axis=(1, 3))
    out = np.repeat(np.repeat(small.astype(np.uint8), bh, axis=0), bw, axis=1)
    full = np.zeros_like(rgb)
    full[:hh, :ww] = out
    return full


def _summary(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k} {len(v)}" for k, v in changes.items())
