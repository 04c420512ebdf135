"""How the fleet itself is doing: sampling schedule, decode load, loop lag.

A fleet publishes a `FleetHealth` on its bus every few seconds. When CPU runs
short, the decode pool serves every camera in turn, so each is sampled less
often than its schedule asks; FleetHealth says so ("sampling every 3.4 s
instead of 2.0 s") rather than letting it pass unseen. Front ends that do not
know the type ignore it, as they ignore any bus message they do not know.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: an attached viewer must not load PyAV for this
    from .decode import PoolFigures

OVERLOAD_RATIO = 1.25  # sampled this much less often than scheduled: overloaded
RECOVER_RATIO = 1.15  # ...and no longer once back under this (no flapping on the line)
STALE_AFTER = 15.0  # s without a shard's figures: that shard is reported, not its old figures
LAG_PERIOD = 0.05  # s between two sleep-drift probes
LAG_HISTORY = 1200  # probes kept at most: one minute
LAG_TARGET_MS = 100.0  # the governor keeps the loop's recent p90 lag under this
GOVERNOR_FLOOR = 0.1  # cores the governor always leaves to decoding
# Rates (samples, decode CPU, waits) are taken over this much of the recent past, not
# since the previous FleetHealth: cameras that learned their baselines together sample
# in step, a burst per healthy interval, and a few seconds' rate would read 0 or a peak.
RATE_WINDOW = 60.0
# What every front end says when the figures give no reason, and on recovery.
NO_REASON = "cameras sampled less often than scheduled"
ON_SCHEDULE = "every camera sampled on schedule"


@dataclass(frozen=True, slots=True)
class FleetHealth:
    """The fleet's own figures (published on the bus; rates per second over the
    last RATE_WINDOW seconds)."""

    at: float  # wall time
    cameras: int
    live: int
    sample_interval_s: float | None  # median time between two samples of a live camera
    # What the schedule asks: the keyframe cadence and each camera's interval in
    # force (sample_interval, or healthy_sample_interval while its picture is healthy).
    nominal_interval_s: float | None
    overloaded: bool
    reason: str  # "" when not overloaded
    samples_per_s: float
    superseded_per_s: float  # keyframes dropped because the camera's previous one still waited
    decode_cpu_pct: float  # % of one core used by decoding and image analysis
    decode_budget_pct: float | None  # the cap on it, None: no cap
    decode_wait_ms: float | None  # mean time a keyframe waited for a decode thread
    loop_lag_p50_ms: float | None  # event-loop lag since the previous FleetHealth
    loop_lag_p99_ms: float | None  # (the worst process when sharded)
    shards: int = 1  # processes that run cameras

    @property
    def why(self) -> str:
        """The reason to show for an overload (a merged report may carry none)."""
        return self.reason or NO_REASON


class LagProbe:
    """Sleep-drift probe: how late a short sleep wakes is how long the event
    loop was busy with something else. Costs 20 wakeups a second."""

    def __init__(
        self,
        period: float = LAG_PERIOD,
        history: int = LAG_HISTORY,
        on_beat: Callable[[float], None] | None = None,
    ) -> None:
        self.period = period
        self.samples: deque[float] = deque(maxlen=history)
        self.on_beat = on_beat  # told the monotonic time at each wake: the loop is alive

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.period)
            now = loop.time()
            self.samples.append(max(0.0, now - t0 - self.period))
            if self.on_beat is not None:
                self.on_beat(time.monotonic())

    def recent(self, count: int, pct: float) -> float | None:
        """The pct-th percentile (ms) of the last `count` probes, without resetting."""
        if not self.samples:
            return None
        tail = sorted(list(self.samples)[-count:])
        return _pick(tail, pct) * 1000

    def percentiles(self, reset: bool = True) -> tuple[float | None, float | None]:
        """(p50, p99) in ms since the last reset (history-bound)."""
        if not self.samples:
            return None, None
        s = sorted(self.samples)
        if reset:
            self.samples.clear()
        return _pick(s, 50) * 1000, _pick(s, 99) * 1000


def _pick(sorted_values: list[float], pct: float) -> float:
    k = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def nominal_interval(sample_interval: float, gop_s: float | None) -> float:
    """How often a camera is sampled when nothing holds it back: at the first
    keyframe at least 0.95 x sample_interval after the previous sample.

    sample_interval is the one in force (MediaPipeline.sample_interval), which
    the adaptive policy sets to healthy_sample_interval for a healthy picture:
    a healthy camera sampled every other keyframe is on schedule, not starved.
    """
    if not gop_s or gop_s <= 0:
        return sample_interval
    return gop_s * max(1, math.ceil(sample_interval * 0.95 / gop_s - 1e-9))


class HealthMeter:
    """Turns successive pool figures and per-camera periods into FleetHealth."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        # Pool figures of the recent past, oldest first (one window's worth).
        self._history: deque[tuple[float, PoolFigures]] = deque()
        self._overloaded = False

    def seed(self, pool: PoolFigures, now: float | None = None) -> None:
        """The pool's figures at start: the first FleetHealth then has true rates,
        not zeros that read as measured."""
        self._history.clear()
        self._history.append((time.monotonic() if now is None else now, pool))

    def measure(
        self,
        *,
        cameras: int,
        live: int,
        periods: Iterable[tuple[float | None, float]],
        pool: PoolFigures,
        lag: tuple[float | None, float | None],
        shards: int = 1,
        budget_max: float | None = None,
        now: float | None = None,
    ) -> FleetHealth:
        """periods: (smoothed time between samples or None, nominal interval) per
        live camera; budget_max: the configured budget, when a governor holds
        the pool's below it; now: time.monotonic() unless given."""
        now = time.monotonic() if now is None else now
        if self._history and _went_back(self._history[-1][1], pool):
            self._history.clear()  # a new pool: its counters start again
        prev = self._since(now)
        self._history.append((now, pool))
        rate = _rates(prev[1] if prev else None, pool, now - prev[0] if prev else 0.0)
        periods = list(periods)
        actual, nominal = _medians(periods)
        typical = _typical(periods)
        # Two thresholds, so a fleet sitting at the edge does not flip every reading.
        limit = RECOVER_RATIO if self._overloaded else OVERLOAD_RATIO
        overloaded = typical is not None and typical[0] > limit * typical[1]
        self._overloaded = overloaded
        budget = None if pool.budget is None else pool.budget * 100
        held = budget_max is not None and pool.budget is not None and pool.budget < budget_max
        reason = ""
        if overloaded and typical is not None:
            cause = _cause(rate["cpu"] * 100, budget, held)  # type: ignore[operator]
            reason = f"sampling every {typical[0]:.1f} s instead of {typical[1]:.1f} s: {cause}"
        return FleetHealth(
            at=time.time(),
            cameras=cameras,
            live=live,
            sample_interval_s=actual,
            nominal_interval_s=nominal,
            overloaded=overloaded,
            reason=reason,
            samples_per_s=rate["done"],
            superseded_per_s=rate["superseded"],
            decode_cpu_pct=rate["cpu"] * 100,
            decode_budget_pct=budget,
            decode_wait_ms=rate["wait_ms"],
            loop_lag_p50_ms=lag[0],
            loop_lag_p99_ms=lag[1],
            shards=shards,
        )

    def _since(self, now: float) -> tuple[float, PoolFigures] | None:
        """The figures about `window` ago: the newest at least that old, else the
        oldest kept (older ones are dropped)."""
        history = self._history
        while len(history) > 1 and now - history[1][0] >= self.window:
            history.popleft()
        return history[0] if history else None


def _cause(cpu_pct: float, budget_pct: float | None, held: bool) -> str:
    if held and budget_pct is not None:
        return f"decoding held to {budget_pct:.0f}% of a core to keep the event loop responsive"
    if budget_pct is not None and cpu_pct >= 0.9 * budget_pct:
        return f"decode budget of {budget_pct:.0f}% of a core exhausted"
    return "decoding cannot keep up (CPU busy)"


def _went_back(prev: PoolFigures, cur: PoolFigures) -> bool:
    return (
        cur.completed + cur.failed < prev.completed + prev.failed
        or cur.superseded < prev.superseded
        or cur.cpu_s < prev.cpu_s
        or cur.wait_s < prev.wait_s
    )


def _rates(prev: PoolFigures | None, cur: PoolFigures, dt: float) -> dict[str, float | None]:
    if prev is None or dt <= 0:
        return {"done": 0.0, "superseded": 0.0, "cpu": 0.0, "wait_ms": None}
    done = cur.completed + cur.failed - prev.completed - prev.failed
    return {
        "done": done / dt,
        "superseded": (cur.superseded - prev.superseded) / dt,
        "cpu": (cur.cpu_s - prev.cpu_s) / dt,
        "wait_ms": (cur.wait_s - prev.wait_s) / done * 1000 if done > 0 else None,
    }


def _typical(periods: list[tuple[float | None, float]]) -> tuple[float, float] | None:
    """(actual, nominal) of the camera at the median of actual/nominal.

    Judged camera by camera: with cameras on different schedules (healthy
    ones every 30 s, a few just sent back to every keyframe and not measured
    yet) the median period and the median schedule come from different
    cameras, and compared they read as an overload that is not there.
    """
    pairs = [(p, n) for p, n in periods if p is not None and n > 0]
    pairs.sort(key=lambda pair: pair[0] / pair[1])
    return pairs[len(pairs) // 2] if pairs else None


def _medians(periods: Iterable[tuple[float | None, float]]) -> tuple[float | None, float | None]:
    actual = [p for p, _ in periods if p is not None]
    nominal = [n for _, n in periods]
    return (
        statistics.median(actual) if actual else None,
        statistics.median(nominal) if nominal else None,
    )


def _worst_reason(parts: list[FleetHealth]) -> str:
    """The reason of the shard furthest behind (a silent one first), and how many
    are: an average over shards would mix schedules and blame the wrong cause."""
    late = [p for p in parts if p.overloaded]
    if not late:
        return ""

    def behind(p: FleetHealth) -> float:
        if p.sample_interval_s is None or not p.nominal_interval_s:
            return math.inf
        return p.sample_interval_s / p.nominal_interval_s

    why = max(late, key=behind).why
    return why if len(parts) == 1 else f"{why} ({len(late)} of {len(parts)} shards)"


def fresh_parts(parts: Mapping[int, tuple[float, FleetHealth]], now: float) -> list[FleetHealth]:
    """Each shard's latest figures (index -> (monotonic arrival, figures)); a shard
    silent for STALE_AFTER is reported as overloaded (its loop is blocked or its
    process hangs) instead of its last, calm-looking figures."""
    out = []
    for index, (arrived, health) in sorted(parts.items()):
        silent = now - arrived
        if silent > STALE_AFTER:
            health = replace(
                health,
                overloaded=True,
                reason=f"shard {index + 1} silent for {silent:.0f} s (blocked or hung)",
                sample_interval_s=None,
            )
        out.append(health)
    return out


class Governor:
    """Holds the decode budget down while the event loop lags.

    Decode threads are niced, but the analysis they run holds the GIL: when
    CPU is short, a preempted decode thread keeps the loop waiting for it.
    Each step looks at the loop's recent lag: above the target the budget
    shrinks by a third, well under it the budget grows back by a twentieth
    of its ceiling (additive increase, multiplicative decrease, as TCP does),
    never under `floor` cores so every camera is still sampled.
    """

    def __init__(
        self, ceiling: float, floor: float = GOVERNOR_FLOOR, target_ms: float = LAG_TARGET_MS
    ) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.target_ms = target_ms
        self.budget = ceiling

    def step(self, lag_p90_ms: float | None) -> float:
        if lag_p90_ms is None:
            return self.budget
        if lag_p90_ms > self.target_ms:
            self.budget = max(self.floor, self.budget * 2 / 3)
        elif lag_p90_ms < self.target_ms / 2:
            self.budget = min(self.ceiling, self.budget + self.ceiling / 20)
        return self.budget


def merge(parts: list[FleetHealth], lag: tuple[float | None, float | None]) -> FleetHealth:
    """One FleetHealth for shards: sums, camera-weighted intervals, worst lag."""
    cams = sum(p.cameras for p in parts)
    live = sum(p.live for p in parts)

    def weighted(attr: str) -> float | None:
        pairs = [(getattr(p, attr), p.live) for p in parts if getattr(p, attr) is not None]
        total = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / total if total else None

    actual, nominal = weighted("sample_interval_s"), weighted("nominal_interval_s")
    budgets = [p.decode_budget_pct for p in parts]
    lags50 = [x for x in [lag[0], *(p.loop_lag_p50_ms for p in parts)] if x is not None]
    lags99 = [x for x in [lag[1], *(p.loop_lag_p99_ms for p in parts)] if x is not None]
    reason = _worst_reason(parts)
    return FleetHealth(
        at=time.time(),
        cameras=cams,
        live=live,
        sample_interval_s=actual,
        nominal_interval_s=nominal,
        overloaded=any(p.overloaded for p in parts),
        reason=reason,
        samples_per_s=sum(p.samples_per_s for p in parts),
        superseded_per_s=sum(p.superseded_per_s for p in parts),
        decode_cpu_pct=sum(p.decode_cpu_pct for p in parts),
        decode_budget_pct=None if None in budgets else sum(b or 0.0 for b in budgets),
        decode_wait_ms=weighted("decode_wait_ms"),
        loop_lag_p50_ms=max(lags50) if lags50 else None,
        loop_lag_p99_ms=max(lags99) if lags99 else None,
        shards=len(parts),
    )
