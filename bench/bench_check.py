"""`camwatch check` over a simulated fleet: wall time and CPU against the goal
"217 cameras within the observation window + 5 s".

    python bench/bench_check.py [--seconds 5] [--sizes 50,217] [--concurrency 64,256]

The simulator runs in its own process (healthy scenario, 640x360, 15 fps,
2 s GOP, 500 kbit/s per camera: a typical substream); each check is a real
`python -m camwatch check --format json` subprocess, whose own CPU and peak
RSS come from wait4() (the sim is not counted). Both share this machine's
cores, so figures on a 2-core box include the sim's competition for CPU.
Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camwatch.sim import SimProcess

GRACE_S = 5.0  # the goal: window + this


def write_inventory(urls: dict[str, str], path: Path) -> None:
    text = "".join(f'[[camera]]\nname = "{n}"\nurl = "{u}"\n' for n, u in sorted(urls.items()))
    path.write_text(text)


def run_check(cfg: Path, seconds: float, concurrency: int, data: Path) -> dict[str, float]:
    """One `camwatch check` child; its own CPU and peak RSS from wait4()."""
    args = [sys.executable, "-m", "camwatch", "check", "--config", str(cfg), "--format", "json"]
    args += ["--seconds", f"{seconds:g}", "--concurrency", str(concurrency)]
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    try:
        summary = json.loads(stdout)["summary"]
    except (json.JSONDecodeError, KeyError):
        sys.exit(f"check failed (exit {proc.returncode}): {stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "exit": proc.returncode,
        "ok": summary["ok"],
        "inner": summary["wall_s"],
        "rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="observation window (default 5)")
    ap.add_argument("--sizes", default="50,217", help="fleet sizes (default 50,217)")
    ap.add_argument("--concurrency", default="64,256", help="limits to compare (default 64,256)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    limits = [int(x) for x in args.concurrency.split(",")]
    print(f"camwatch check, {args.seconds:g} s window, goal: <= {args.seconds + GRACE_S:g} s wall")
    print(f"{os.cpu_count()} CPUs; sim in its own process on the same machine\n")
    head = f"{'cameras':>7} {'limit':>5} {'wall s':>7} {'in run':>7} {'CPU s':>6} "
    head += f"{'CPU ms/cam/s':>12} {'RSS MB':>6} {'ok':>4} {'exit':>4}  goal"
    print(head)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for n in sizes:
            with SimProcess(cameras=n, startup_timeout=300) as sim:
                cfg = Path(tmp) / f"fleet-{n}.toml"
                write_inventory(sim.urls, cfg)
                time.sleep(1.0)  # let the sim settle after start-up encoding
                for c in limits:
                    f = run_check(cfg, args.seconds, c, Path(tmp))
                    per = f["cpu"] * 1000 / n / args.seconds
                    met = "met" if f["wall"] <= args.seconds + GRACE_S else "MISSED"
                    print(
                        f"{n:>7} {c:>5} {f['wall']:>7.1f} {f['inner']:>7.1f} {f['cpu']:>6.1f} "
                        f"{per:>12.1f} {f['rss_mb']:>6.0f} {f['ok']:>4} {f['exit']:>4}  {met}",
                        flush=True,
                    )
    print("\nwall s: the whole subprocess (interpreter start included); in run: check_fleet.")
    print("CPU ms/cam/s: the check process's CPU per camera per second of window.")


if __name__ == "__main__":
    main()
