"""Fleet benchmark: camwatch watching N simulated cameras, side by side with ffmpeg.

    python bench/bench_fleet.py                       # quick: 50 cameras, ~2 minutes
    python bench/bench_fleet.py --cameras 50 217 --check --json a.json
    python bench/bench_fleet.py --cameras 500 1000 --shards 2 --json b.json

Per N, three kinds of process run on this machine at once:

- the simulator (`camwatch sim`, 640x360 H.264, 15 fps, GOP 2 s, 500 kbit/s,
  TCP) in its own process, its CPU reported separately;
- camwatch: an agent process (this file with --agent) running the in-process
  core (fleet, full image analysis, rule engine, SQLite store) over all N
  cameras, plus the shard processes the fleet starts with --shards; its CPU is
  user+sys of those processes only, read from /proc (and the part spent in
  their main threads, the event loops, apart);
- `ffmpeg -rtsp_transport tcp -i URL -f null -` (full decode) on a few of the
  same cameras, the alternative NVRs and cron scripts use, CPU from /proc.

The scenario stalls two cameras and freezes the picture of two others at a
known time (after the measurement window); the agent records when the status
or image condition appears on its bus and when the rule engine raises the
alert. A camera is "starved" when it got fewer than half the samples of its
schedule over the window: the keyframes (GOP 2 s) as often as the interval in
force allows (sample_interval, or healthy_sample_interval while the picture is
healthy: the nominal interval FleetHealth reports), or, when the fleet reports
itself overloaded, the degraded interval it reports (every camera must still
be served fairly). Event-loop lag comes from sleep-drift probes: the agent's own over the
window, and each camwatch process's per 5-s period (FleetHealth).

`--check` also times `camwatch check` over 217 fresh healthy cameras. Prints a
table and JSON. Figures move by +-10% between runs; the machine's load average
is printed with each row because others may share the cores. Results and how
they were taken: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
STALLED = ("cam{}1", "cam{}2")
FROZEN = ("cam{}3", "cam{}4")
WARMUP_S = 10.0
ALERT_WAIT_S = 120.0
LAG_PERIOD = 0.05


# --------------------------------------------------------------------------- /proc


def proc_cpu(pid: int) -> float:
    """user+sys seconds of one process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_cpu(pid: int) -> float:
    """user+sys seconds of a process's main thread: its event loop."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_loop_cpu(pid: int) -> float:
    return sum(main_thread_cpu(p) for p in proc_tree(pid))


def proc_rss_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; PSS shares common pages fairly between processes."""
    rss = pss = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def proc_tree(pid: int) -> list[int]:
    """pid and all its descendants (shard workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
    return out


def tree_cpu(pid: int) -> float:
    return sum(proc_cpu(p) for p in proc_tree(pid))


def tree_mem_mb(pid: int) -> tuple[float, float]:
    rss = pss = 0
    for p in proc_tree(pid):
        r, s = proc_rss_kb(p)
        rss, pss = rss + r, pss + s
    return rss / 1024, pss / 1024


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, math.ceil(pct / 100 * len(s)) - 1))
    return s[k]


# --------------------------------------------------------------------------- agent


class LagProbe:
    """Sleep-drift probe: how late a short sleep wakes up is how long the loop
    was busy with something else."""

    def __init__(self, period: float = LAG_PERIOD) -> None:
        self.period = period
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.period)
            self.samples.append(max(0.0, loop.time() - t0 - self.period))
            if len(self.samples) > 200_000:
                del self.samples[:100_000]


class Recorder:
    """Watches the bus: first stall, first frozen condition, first alert per camera."""

    def __init__(self) -> None:
        self.stalled: dict[str, float] = {}
        self.frozen: dict[str, float] = {}
        self.alerts: dict[str, float] = {}  # "camera:rule" -> raised at
        self.health: list[dict[str, Any]] = []

    def handle(self, message: object) -> None:
        from camwatch.alerts.model import AlertEvent
        from camwatch.state import CameraState, Status, StatusChanged

        now = time.time()
        if isinstance(message, StatusChanged):
            if message.new is Status.STALLED:
                self.stalled.setdefault(message.camera, now)
        elif isinstance(message, CameraState):
            for c in message.conditions:
                if c.kind == "frozen" and c.active:
                    self.frozen.setdefault(message.name, now)
        elif isinstance(message, AlertEvent):
            if message.kind == "raised":
                a = message.alert
                self.alerts.setdefault(f"{a.camera}:{a.rule}", now)
        elif type(message).__name__ == "FleetHealth":
            self.health.append(_plain(message))
            del self.health[:-100]


def _plain(obj: object) -> dict[str, Any]:
    return {
        k: v
        for k, v in dataclasses.asdict(obj).items()  # type: ignore[call-overload]
        if isinstance(v, int | float | str | bool | type(None))
    }


def _totals(states: dict[str, Any]) -> dict[str, tuple[int, int, str, int, int, int]]:
    return {
        n: (
            s.stats.packets_received,
            s.decode.keyframes_decoded,
            str(s.status),
            s.decode.decode_errors,
            s.decode.samples_skipped,
            getattr(s.decode, "guard_trips", 0),
        )
        for n, s in states.items()
    }


async def _agent(args: argparse.Namespace) -> int:
    from camwatch.camera import MonitorSettings
    from camwatch.config import Inventory, camera_from_url
    from camwatch.core import Core, CoreOptions
    from camwatch.state import Status

    urls: dict[str, str] = json.loads(Path(args.urls).read_text())  # noqa: ASYNC240
    cams = tuple(camera_from_url(u, name=n) for n, u in urls.items())
    if args.sample_interval is not None:
        cams = tuple(dataclasses.replace(c, sample_interval=args.sample_interval) for c in cams)
    if args.healthy_interval is not None:
        cams = tuple(
            dataclasses.replace(c, healthy_sample_interval=args.healthy_interval) for c in cams
        )
    inventory = Inventory(path=None, cameras=cams)
    opts = CoreOptions(
        store=True,
        db_path=Path(args.db),
        notify=False,
        analysis=True,
        workers=args.workers,
        settings=MonitorSettings(read_every=args.read_every),
        shards=args.shards,  # None: the core's automatic count
    )
    core = Core(inventory, opts)
    probe, rec = LagProbe(), Recorder()
    sub = core.bus.subscribe(1 << 16)

    async def consume() -> None:
        async for m in sub:
            rec.handle(m)

    tasks = [asyncio.create_task(probe.run()), asyncio.create_task(consume())]
    _emit({"t": "ready", "pid": os.getpid()})
    await core.start()
    mark: dict[str, Any] = {}
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            cmd = line.strip()
            if not cmd or cmd == "quit":
                break
            states = core.bus.states()
            if cmd == "status":
                live = sum(1 for s in states.values() if s.status is Status.LIVE)
                sampled = sum(1 for s in states.values() if s.decode.keyframes_decoded > 0)
                ready = sum(1 for s in states.values() if getattr(s.analysis, "baseline_ready", 0))
                _emit(
                    {"t": "status", "live": live, "sampled": sampled, "ready": ready,
                     "n": len(states)}
                )  # fmt: skip
            elif cmd == "mark":
                probe.samples.clear()
                rec.health.clear()
                mark = {"at": time.monotonic(), "totals": _totals(states)}
                _emit({"t": "marked"})
            elif cmd == "report":
                _emit(_report(core, states, mark, probe, rec))
            elif cmd == "events":
                _emit(
                    {"t": "events", "stalled": rec.stalled, "frozen": rec.frozen,
                     "alerts": rec.alerts}
                )  # fmt: skip
    finally:
        for t in tasks:
            t.cancel()
        await core.stop()
    return 0


def _report(
    core: Any, states: dict[str, Any], mark: dict[str, Any], probe: LagProbe, rec: Recorder
) -> dict[str, Any]:
    elapsed = time.monotonic() - mark["at"]
    before, now = mark["totals"], _totals(states)
    per_cam = {}
    for name, (pk, kf, status, err, skip, trips) in now.items():
        pk0, kf0, _, err0, skip0, trips0 = before.get(name, (0, 0, "", 0, 0, 0))
        per_cam[name] = {
            "packets": pk - pk0, "samples": kf - kf0, "status": status,
            "errors": err - err0, "skipped": skip - skip0, "guard_trips": trips - trips0,
        }  # fmt: skip
    lags = list(probe.samples)
    return {
        "t": "report",
        "elapsed": elapsed,
        "cameras": per_cam,
        "lag_p50": percentile(lags, 50),
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags) if lags else None,
        "lag_n": len(lags),
        "health": rec.health[-1] if rec.health else None,
        "fleet_lag_p99s": [h["loop_lag_p99_ms"] for h in rec.health if h["loop_lag_p99_ms"]],
        "pool": _pool_figures(core),
    }


def _pool_figures(core: Any) -> dict[str, Any] | None:
    pool = getattr(core.fleet, "pool", None)
    figures = getattr(pool, "figures", None)
    return _plain(figures()) if figures else None


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- parent


class Agent:
    def __init__(self, urls: dict[str, str], workdir: Path, args: argparse.Namespace) -> None:
        path = workdir / "urls.json"
        path.write_text(json.dumps(urls))
        cmd = [
            sys.executable, __file__, "--agent", "--urls", str(path),
            "--db", str(workdir / "camwatch.db"),
        ]  # fmt: skip
        if args.shards is not None:
            cmd += ["--shards", str(args.shards)]
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        if args.sample_interval is not None:
            cmd += ["--sample-interval", str(args.sample_interval)]
        if args.healthy_interval is not None:
            cmd += ["--healthy-interval", str(args.healthy_interval)]
        cmd += ["--read-every", str(args.read_every)]
        self.err = (workdir / "agent.log").open("w")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.pid = self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, kind: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError("camwatch agent exited; see agent.log")
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if msg.get("t") == kind:
                    return msg

    def ask(self, cmd: str, kind: str, timeout: float = 60.0) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.read(kind, timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.err.close()


def scenario_toml(n: int, fault_at: float) -> str:
    w = max(2, len(str(n)))
    stalled = [s.format("0" * (w - 1)) for s in STALLED]
    frozen = [s.format("0" * (w - 1)) for s in FROZEN]
    return f"""
name = "bench-fleet"
cameras = {n}
[defaults]
size = "640x360"
fps = 15
gop = 2
bitrate = "500k"
[[faults]]
camera = {json.dumps(stalled)}
fault = "stall"
start = {fault_at}
[[faults]]
camera = {json.dumps(frozen)}
fault = "frozen"
start = {fault_at}
"""


def fault_names(n: int) -> tuple[list[str], list[str]]:
    w = max(2, len(str(n)))
    z = "0" * (w - 1)
    return [s.format(z) for s in STALLED], [s.format(z) for s in FROZEN]


def start_ffmpeg(urls: list[str]) -> list[subprocess.Popen[bytes]]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return []
    cmd = [exe, "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i"]
    null = subprocess.DEVNULL
    return [
        subprocess.Popen([*cmd, u, "-f", "null", "-"], stdin=null, stdout=null, stderr=null)
        for u in urls
    ]


def run_one(n: int, args: argparse.Namespace) -> dict[str, Any]:
    from camwatch.sim.process import SimProcess

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-fleet-{n}-"))
    # Faults start once camwatch had time to connect and warm up; connecting
    # runs ~32 at a time, a few ms each, so the estimate grows with N.
    fault_at = round(args.connect_budget + n * 0.03 + args.learn_seconds + WARMUP_S + 5)
    scen = workdir / "scenario.toml"
    scen.write_text(scenario_toml(n, fault_at))
    truth = workdir / "truth.json"
    sim = SimProcess(
        scenario=str(scen), truth=truth, startup_timeout=600,
        extra_args=["--session-timeout", "60"],
    )  # fmt: skip
    t_sim0 = time.monotonic()
    sim.start()
    sim_started_wall = time.time()
    sim_startup = time.monotonic() - t_sim0
    assert sim.proc is not None
    stalled, frozen = fault_names(n)
    healthy = [c for c in sim.urls if c not in stalled + frozen]
    ff_urls = [sim.urls[c] for c in healthy[-args.ffmpeg :]] if args.ffmpeg else []
    result: dict[str, Any] = {"cameras": n, "sim_startup_s": sim_startup, "fault_at_s": fault_at}
    agent = ffs = None
    try:
        agent = Agent(sim.urls, workdir, args)
        agent.read("ready", 60)
        rss_base = tree_mem_mb(agent.pid)
        t0 = time.monotonic()
        ffs = start_ffmpeg(ff_urls)
        while True:
            st = agent.ask("status", "status")
            if st["live"] >= n or time.monotonic() - t0 > args.connect_budget + n * 0.2:
                break
            time.sleep(1.0)
        result["connect_s"] = time.monotonic() - t0
        result["live_at_start"] = st["live"]
        # A deployed fleet has learned its baselines (they are stored); a fresh
        # one samples every keyframe until it has, then healthy cameras less often.
        time.sleep(args.learn_seconds + WARMUP_S)
        result["baselines_ready_at_start"] = agent.ask("status", "status")["ready"]
        # ---- measurement window -------------------------------------------------
        agent.ask("mark", "marked")
        c_cam, c_sim = tree_cpu(agent.pid), proc_cpu(sim.proc.pid)
        c_loop = tree_loop_cpu(agent.pid)
        c_procs = {p: (proc_cpu(p), main_thread_cpu(p)) for p in proc_tree(agent.pid)}
        c_ff = [proc_cpu(p.pid) for p in ffs]
        w0 = time.monotonic()
        load0 = load_average()
        spy = profile(agent.pid, args) if args.profile else None
        time.sleep(args.seconds)
        if spy is not None:
            spy.wait(60)
        rep = agent.ask("report", "report", 120)
        el = time.monotonic() - w0
        cam_cpu = (tree_cpu(agent.pid) - c_cam) / el
        result["camwatch_loop_cpu_pct"] = (tree_loop_cpu(agent.pid) - c_loop) / el * 100
        result["camwatch_processes"] = [
            {
                "pid": p,
                "role": "core" if p == agent.pid else "shard",
                "cpu_pct": (proc_cpu(p) - c0) / el * 100,
                "loop_cpu_pct": (main_thread_cpu(p) - m0) / el * 100,
            }
            for p, (c0, m0) in c_procs.items()
        ]
        sim_cpu = (proc_cpu(sim.proc.pid) - c_sim) / el
        ff_cpu = [(proc_cpu(p.pid) - c) / el for p, c in zip(ffs, c_ff, strict=True)]
        rss, pss = tree_mem_mb(agent.pid)
        sim_rss, _ = tree_mem_mb(sim.proc.pid)
        result.update(_figures(n, rep, cam_cpu, sim_cpu, ff_cpu, rss, pss, rss_base, sim_rss))
        result["load_avg"] = f"{load0} -> {load_average()}"
        for p in ffs:
            p.terminate()
        # ---- fault detection ----------------------------------------------------
        if not args.no_alerts:
            result.update(_wait_alerts(agent, truth, sim_started_wall, fault_at, stalled, frozen))
    finally:
        for p in ffs or []:
            with contextlib.suppress(Exception):
                p.kill()
                p.wait(5)
        if agent is not None:
            agent.close()
        sim.stop(timeout=60)
        sim.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            result["workdir"] = str(workdir)
    if args.check and n == 217:
        result["check"] = time_check(n, args)
    return result


def _figures(
    n: int, rep: dict[str, Any], cam_cpu: float, sim_cpu: float, ff_cpu: list[float],
    rss: float, pss: float, rss_base: tuple[float, float], sim_rss: float,
) -> dict[str, Any]:  # fmt: skip
    el = rep["elapsed"]
    cams = rep["cameras"]
    stalled, frozen = fault_names(n)
    judged = {k: v for k, v in cams.items() if k not in stalled + frozen}
    packets = sum(v["packets"] for v in cams.values())
    samples = sum(v["samples"] for v in cams.values())
    health = rep.get("health") or {}
    # The schedule: the keyframes (GOP 2 s) at most as often as the interval in
    # force allows (FleetHealth's nominal: sample_interval, or the healthy one);
    # when the fleet reports it is overloaded, the degraded interval it reports.
    # Starved: fewer than half of that, i.e. not served fairly.
    nominal = float(health.get("nominal_interval_s") or 2.0)
    interval = max(nominal, float(health.get("sample_interval_s") or nominal))
    expect = el / interval
    starved = sorted(k for k, v in judged.items() if v["samples"] < 0.5 * expect)
    rates = sorted(v["samples"] / el for v in judged.values())
    ff_mean = sum(ff_cpu) / len(ff_cpu) if ff_cpu else None
    per_cam = cam_cpu / n
    lag_p99 = rep["lag_p99"]
    periods = rep.get("fleet_lag_p99s") or []
    fleet_p99 = max(periods) if periods else None
    return {
        "window_s": el,
        "camwatch_cpu_pct": cam_cpu * 100,
        "camwatch_cpu_per_camera_pct": per_cam * 100,
        "sim_cpu_pct": sim_cpu * 100,
        "sim_rss_mb": sim_rss,
        "rss_mb": rss,
        "pss_mb": pss,
        "rss_base_mb": rss_base[0],
        "rss_per_camera_mb": rss / n,
        "rss_marginal_per_camera_mb": (rss - rss_base[0]) / n,
        "packets_per_s": packets / el,
        "keyframes_per_s": samples / el,
        "decode_errors": sum(v.get("errors", 0) for v in cams.values()),
        "samples_skipped": sum(v.get("skipped", 0) for v in cams.values()),
        "guard_trips_per_s": sum(v.get("guard_trips", 0) for v in judged.values()) / el,
        "pool": rep.get("pool"),
        "samples_per_camera_min": rates[0] if rates else None,
        "samples_per_camera_median": rates[len(rates) // 2] if rates else None,
        "nominal_samples_per_s": 1.0 / nominal,
        "schedule_samples_per_s": 1.0 / interval,
        "starved": len(starved),
        "starved_names": starved[:10],
        "not_live": sorted(k for k, v in judged.items() if v["status"] != "live")[:10],
        "lag_p50_ms": (rep["lag_p50"] or 0) * 1000,
        "lag_p99_ms": (rep["lag_p99"] or 0) * 1000,
        "lag_max_ms": (rep["lag_max"] or 0) * 1000,
        "fleet_lag_p99_ms": fleet_p99,  # worst 5-s period of any camwatch process
        "fleet_lag_p99_median_ms": sorted(periods)[len(periods) // 2] if periods else None,
        "loop_lag_p99_ms": max((lag_p99 or 0) * 1000, fleet_p99 or 0),
        "fleet_health": health or None,
        "ffmpeg_cpu_pct": [c * 100 for c in ff_cpu],
        "ffmpeg_cpu_per_camera_pct": ff_mean * 100 if ff_mean is not None else None,
        "ffmpeg_ratio": ff_mean / per_cam if ff_mean and per_cam > 0 else None,
    }


def _wait_alerts(
    agent: Agent, truth: Path, sim_wall: float, fault_at: float,
    stalled: list[str], frozen: list[str],
) -> dict[str, Any]:  # fmt: skip
    want = [f"{c}:stalled" for c in stalled] + [f"{c}:frozen" for c in frozen]
    deadline = time.monotonic() + max(0.0, sim_wall + fault_at - time.time()) + ALERT_WAIT_S
    ev: dict[str, Any] = {}
    while time.monotonic() < deadline:
        ev = agent.ask("events", "events")
        if all(k in ev["alerts"] for k in want):
            break
        time.sleep(1.0)
    starts: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError):
        for entry in json.loads(truth.read_text()):
            starts.setdefault(entry["camera"], entry["start_unix"])

    def delays(names: list[str], seen: dict[str, float]) -> list[float | None]:
        return [round(seen[c] - starts[c], 1) if c in seen and c in starts else None for c in names]

    return {
        "stall_to_status_s": delays(stalled, ev.get("stalled", {})),
        "stall_to_alert_s": delays(stalled, {k.split(":")[0]: v for k, v in ev.get(
            "alerts", {}).items() if k.endswith(":stalled")}),
        "frozen_to_condition_s": delays(frozen, ev.get("frozen", {})),
        "frozen_to_alert_s": delays(frozen, {k.split(":")[0]: v for k, v in ev.get(
            "alerts", {}).items() if k.endswith(":frozen")}),
    }  # fmt: skip


def profile(pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    """py-spy over the window (collapsed stacks, camwatch processes only)."""
    exe = shutil.which("py-spy")
    if exe is None:
        print("py-spy not installed: no profile", file=sys.stderr)
        return None
    out = args.profile / f"fleet-{int(time.time())}.txt"
    args.profile.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--subprocesses", "--threads", "--format", "raw",
         "--nonblocking", "-r", "50", "-d", str(int(args.seconds)), "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def time_check(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """`camwatch check` over a fresh sim of n healthy cameras: wall time vs its window."""
    from camwatch.sim.process import SimProcess

    commands = Path(__file__).resolve().parent.parent / "camwatch" / "commands" / "check.py"
    if not commands.exists():
        return {"skipped": "camwatch check does not exist yet"}
    with SimProcess(cameras=n, startup_timeout=600) as sim, tempfile.TemporaryDirectory() as d:
        inv = Path(d) / "cameras.toml"
        inv.write_text(
            "".join(f'[[camera]]\nname = "{k}"\nurl = "{u}"\n\n' for k, u in sim.urls.items())
        )
        t0 = time.monotonic()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [sys.executable, "-m", "camwatch", "check", "--config", str(inv),
             "--seconds", str(args.check_seconds), "--format", "json"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "window_s": args.check_seconds,
        "wall_s": wall,
        "cpu_s": cpu,
        "exit": proc.returncode,
        "within_window_plus_5": wall <= args.check_seconds + 5,
        "stderr_tail": proc.stderr[-300:],
    }


def _worst(values: list[float | None] | None) -> str:
    if not values or None in values:
        return "-"
    return f"{max(v for v in values if v is not None):.0f}"


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'N':>5} {'CPU%':>6} {'loop%':>6} {'/cam%':>6} {'sim%':>6} {'RSS MB':>7} {'MB/cam':>7}"
        f" {'pkt/s':>7} {'kf/s':>6} {'min/s':>6} {'starv':>5} {'lag50':>6} {'lag99':>6}"
        f" {'stall st/al s':>14} {'frozen c/al s':>14} {'ffmpeg%':>8} {'ratio':>6}  load"
    )
    for r in rows:
        print(
            f"{r['cameras']:>5} {r['camwatch_cpu_pct']:>6.1f} {r['camwatch_loop_cpu_pct']:>6.1f}"
            f" {r['camwatch_cpu_per_camera_pct']:>6.3f}"
            f" {r['sim_cpu_pct']:>6.1f} {r['rss_mb']:>7.0f} {r['rss_per_camera_mb']:>7.2f}"
            f" {r['packets_per_s']:>7.0f} {r['keyframes_per_s']:>6.1f}"
            f" {_num(r['samples_per_camera_min'], 2):>6} {r['starved']:>5}"
            f" {r['lag_p50_ms']:>6.1f} {r['loop_lag_p99_ms']:>6.1f}"
            f" {_worst(r.get('stall_to_status_s')):>6}/{_worst(r.get('stall_to_alert_s')):<7}"
            f" {_worst(r.get('frozen_to_condition_s')):>6}/{_worst(r.get('frozen_to_alert_s')):<7}"
            f" {_num(r['ffmpeg_cpu_per_camera_pct'], 2):>8} {_num(r['ffmpeg_ratio'], 1):>6}"
            f"  {r['load_avg']}"
        )
        if r.get("guard_trips_per_s") is not None:
            print(f"      size guard trips: {r['guard_trips_per_s']:.2f}/s (healthy cameras)")
        if r.get("check"):
            print(f"      camwatch check over 217: {r['check']}")
        if r.get("fleet_health"):
            print(f"      fleet health: {r['fleet_health']}")


def machine() -> dict[str, Any]:
    import av

    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent,
    ).stdout.strip()  # fmt: skip
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "pyav": av.__version__,
        "commit": commit,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, nargs="+", default=[50])
    ap.add_argument("--seconds", type=float, default=30.0, help="measurement window")
    ap.add_argument("--ffmpeg", type=int, default=3, help="ffmpeg full decoders to compare")
    ap.add_argument(
        "--shards", type=int, help="camwatch worker processes (default: the core's automatic)"
    )
    ap.add_argument("--workers", type=int, help="decode threads per process")
    ap.add_argument(
        "--sample-interval", type=float, help="every camera's sample_interval (default 1 s)"
    )
    ap.add_argument(
        "--healthy-interval",
        type=float,
        help="every camera's healthy_sample_interval (default 4 s; 0: off)",
    )
    ap.add_argument(
        "--read-every",
        type=float,
        default=0.2,  # MonitorSettings().read_every (camwatch imported lazily here)
        help="seconds between timed reads of each playing TCP session (0: on readiness)",
    )
    ap.add_argument("--connect-budget", type=float, default=15.0)
    ap.add_argument(
        "--learn-seconds",
        type=float,
        default=80.0,
        help="wait before the window while baselines are learned (30 samples at GOP 2 s, "
        "then 3 healthy samples before the healthy interval; default 80; 0: measure learning)",
    )
    ap.add_argument("--check", action="store_true", help="time `camwatch check` over 217")
    ap.add_argument("--check-seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="write the results here too")
    ap.add_argument("--no-alerts", action="store_true", help="skip waiting for the alerts")
    ap.add_argument("--profile", type=Path, help="py-spy the agent; collapsed stacks here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--agent", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--urls", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16384)), hard))
    if args.agent:
        import logging

        logging.basicConfig(level=logging.WARNING)
        return asyncio.run(_agent(args))
    info = machine()
    print(f"machine: {info}")
    rows = []
    for n in args.cameras:
        rows.append(run_one(n, args))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print_table(rows)
    out = {"machine": info, "results": rows}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
