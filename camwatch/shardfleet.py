"""The parent's side of a sharded fleet: shard processes behind the Fleet API.

Fleet(..., shards=N) hands its cameras to this class, which spreads them over
N shard processes (camwatch.shard), keeps `fleet.monitors`, `fleet.hooks` and
`fleet.configs` filled with stand-ins, relays thumbnails on demand, merges
the shards' FleetHealth, and restarts a shard that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from .config import CameraConfig
from .fleethealth import FleetHealth, fresh_parts
from .shard import (
    WANT_FOR,
    Shard,
    ShardCamera,
    ShardError,
    ShardHook,
    ShardSpec,
    offline,
    restart_delay,
    split,
)
from .state import FrameSample

if TYPE_CHECKING:
    from .fleet import Fleet


def workers_for(budget: float | None) -> int:
    from .fleet import workers_for as rule

    return rule(budget)


log = logging.getLogger("camwatch.fleet")


class ShardedCameras:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.shards: list[Shard] = []
        self._health: dict[int, tuple[float, FleetHealth]] = {}  # index -> (arrival, figures)
        self._wanted: dict[str, float] = {}  # camera -> until (monotonic)
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------
    async def start(self, cameras: list[CameraConfig]) -> bool:
        """Start the shards; False (and nothing started) when the fleet's frame
        hooks cannot run in another process: the fleet then stays in-process."""
        baselines: dict[str, bytes] = {}
        analysis: bool | None = None
        for cfg in cameras:
            ok, has_hook, data = self._hook_of(cfg)
            if not ok or (analysis is not None and analysis != has_hook):
                log.warning("custom frame hooks run in one process: not sharding")
                return False
            analysis = has_hook
            if data:
                baselines[cfg.name] = data
        count = min(self.fleet.shards, len(cameras))
        for index, part in enumerate(split(cameras, count)):
            shard = Shard(index, self.fleet.bus, self._on_health)
            self.shards.append(shard)
            self._adopt(shard, part, baselines)
            await shard.start(self._spec(part, bool(analysis), baselines, count))
            self._watchers.append(asyncio.create_task(self._watch(shard, bool(analysis))))
        return True

    def _hook_of(self, cfg: CameraConfig) -> tuple[bool, bool, bytes | None]:
        """(shardable, has analysis, baseline bytes) of the hook the fleet would give cfg."""
        from .imaging import AnalysisHook

        factory = self.fleet.hook_factory
        hook = factory(cfg) if factory else None
        if hook is None:
            return True, False, None
        if type(hook) is not AnalysisHook:
            return False, True, None
        baseline = hook.baseline
        return True, True, baseline.to_bytes() if baseline is not None else None

    def _spec(
        self, part: list[CameraConfig], analysis: bool, baselines: dict[str, bytes], count: int
    ) -> ShardSpec:
        f = self.fleet
        budget = f._budget(count)
        workers = f.workers or workers_for(budget)  # see fleet.workers_for
        return ShardSpec(
            cameras=tuple(part),
            settings=f.settings,
            analysis=analysis,
            baselines={c.name: baselines[c.name] for c in part if c.name in baselines},
            workers=workers,
            decode_budget=budget,
            max_connecting=max(1, f.max_connecting // count),
        )

    def _adopt(self, shard: Shard, part: list[CameraConfig], baselines: dict[str, bytes]) -> None:
        from .analysis.baseline import Baseline

        f = self.fleet
        for cfg in part:
            cam = ShardCamera(cfg, shard)
            shard.cameras[cfg.name] = cam
            f.monitors[cfg.name] = cam
            f.configs[cfg.name] = cfg
            data = baselines.get(cfg.name)
            f.hooks[cfg.name] = (
                ShardHook(cfg.name, shard, Baseline.from_bytes(data) if data else None)
                if f.hook_factory
                else None
            )
            f.bus.publish(cam.state)

    async def _watch(self, shard: Shard, analysis: bool) -> None:
        """Restart a shard that exits on its own; its cameras read offline meanwhile."""
        while True:
            await shard.exited.wait()
            if self._stopping or shard.stopping:
                return
            code = shard.proc.returncode if shard.proc else None
            reason = f"internal error: worker process exited ({code})"
            delay = restart_delay()
            log.error("shard %d exited (%s): restarting in %g s", shard.index, code, delay)
            for cam in shard.cameras.values():
                cam.state = offline(cam.state, reason)
                self.fleet.bus.publish(cam.state)
            self._health.pop(shard.index, None)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            configs = [c.config for c in shard.cameras.values()]
            baselines = self._known_baselines(configs)
            await shard.start(self._spec(configs, analysis, baselines, len(self.shards)))

    def _known_baselines(self, configs: list[CameraConfig]) -> dict[str, bytes]:
        out = {}
        for cfg in configs:
            hook = self.fleet.hooks.get(cfg.name)
            baseline = getattr(hook, "baseline", None)
            if baseline is not None:
                out[cfg.name] = baseline.to_bytes()
        return out

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(*(self._fetch_baselines(s) for s in self.shards))
        await asyncio.gather(*(s.stop() for s in self.shards))
        for task in self._watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _fetch_baselines(self, shard: Shard) -> None:
        """Learned baselines come home before the shard goes (the core saves them)."""
        from .analysis.baseline import Baseline

        try:
            found = await shard.call("baselines")
        except (ShardError, TimeoutError) as exc:
            log.warning("shard %d: baselines not fetched: %s", shard.index, exc)
            return
        for name, data in found.items():
            hook = self.fleet.hooks.get(name)
            if isinstance(hook, ShardHook):
                with contextlib.suppress(ValueError, KeyError, OSError):
                    hook._baseline = Baseline.from_bytes(data)

    # -- changes -----------------------------------------------------------------
    async def reload(
        self,
        new: dict[str, CameraConfig],
        removed: list[str],
        changed: list[str],
        added: list[str],
    ) -> None:
        f = self.fleet
        plan: dict[int, tuple[list[CameraConfig], list[str]]] = {
            s.index: ([], []) for s in self.shards
        }
        for name in removed:
            cam = f.monitors.pop(name, None)
            f.configs.pop(name, None)
            f.hooks.pop(name, None)
            if isinstance(cam, ShardCamera):
                cam.shard.cameras.pop(name, None)
                plan[cam.shard.index][1].append(name)
        baselines: dict[str, bytes] = {}
        for name in changed:
            cam = f.monitors[name]
            cam.config = new[name]
            f.configs[name] = new[name]
            plan[cam.shard.index][0].append(new[name])
        for name in added:
            shard = min(self.shards, key=lambda s: len(s.cameras))
            _ok, _has, data = self._hook_of(new[name])
            if data:
                baselines[name] = data
            self._adopt(shard, [new[name]], baselines)
            plan[shard.index][0].append(new[name])
        for shard in self.shards:
            configs, gone = plan[shard.index]
            if configs or gone:
                mine = {c.name: baselines[c.name] for c in configs if c.name in baselines}
                shard.send("reload", tuple(configs), gone, mine)

    # -- thumbnails and figures --------------------------------------------------
    def latest_frame(self, name: str) -> FrameSample | None:
        cam = self.fleet.monitors.get(name)
        if not isinstance(cam, ShardCamera):
            return None
        fresh = name not in self._wanted
        self._wanted[name] = time.monotonic() + WANT_FOR
        if fresh:
            self._send_wanted(cam.shard)
        return cam.latest_sample

    def expire_wanted(self) -> None:
        now = time.monotonic()
        gone = [n for n, until in self._wanted.items() if until < now]
        touched = set()
        for name in gone:
            del self._wanted[name]
            cam = self.fleet.monitors.get(name)
            if isinstance(cam, ShardCamera):
                cam.latest_sample = None
                touched.add(cam.shard.index)
        for shard in self.shards:
            if shard.index in touched:
                self._send_wanted(shard)

    def _send_wanted(self, shard: Shard) -> None:
        shard.send("want", [n for n in self._wanted if n in shard.cameras])

    def _on_health(self, index: int, health: FleetHealth) -> None:
        self._health[index] = (time.monotonic(), health)

    def health_parts(self) -> list[FleetHealth]:
        """Each shard's latest figures; a silent shard reads as overloaded."""
        return fresh_parts(self._health, time.monotonic())

    def pids(self) -> list[int]:
        return [p for s in self.shards for p in s.pids()]

    def states(self) -> dict[str, Any]:
        return {n: c.state for s in self.shards for n, c in s.cameras.items()}
