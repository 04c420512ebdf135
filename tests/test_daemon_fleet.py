"""The daemon shows the fleet's FleetHealth to every front end: a real Daemon
in-process, with two real shard processes watching two simulated cameras, its
real metrics endpoint and a real viewer attached to its socket."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import urllib.request
from pathlib import Path

from conftest import OVERLOAD_REASON, overloaded_fleet
from prometheus_client.parser import text_string_to_metric_families
from simfixtures import camera, scenario, until

from camwatch.config import Inventory, camera_from_url
from camwatch.daemon import (
    PRIO_NOTICE,
    PRIO_WARNING,
    Daemon,
    DaemonOptions,
    LineWriter,
    fleet_fields,
)
from camwatch.fleethealth import FleetHealth
from camwatch.remote import connect
from camwatch.sim import SimServer


def fleet_gauges(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("camwatch_fleet_")
    }


def merged_shards(daemon: Daemon) -> int:
    health = daemon.core.fleet_health()
    return 0 if health is None else health.shards


def test_the_log_says_when_an_overload_starts_and_ends_once_each() -> None:
    calm = overloaded_fleet(overloaded=False, reason="")
    busy = overloaded_fleet()
    seen = [fleet_fields(h, was) for h, was in ((calm, False), (busy, False), (busy, True))]
    assert seen[0] is None and seen[2] is None
    assert seen[1] == (
        PRIO_WARNING,
        f'fleet overloaded live=210 cameras=217 reason="{OVERLOAD_REASON}"',
    )
    assert fleet_fields(calm, True) == (
        PRIO_NOTICE,
        'fleet recovered reason="every camera sampled on schedule"',
    )


def scrape_steady(daemon: Daemon, url: str) -> tuple[FleetHealth, dict[str, float]]:
    """The latest FleetHealth and a scrape made while it stayed the latest (a new
    one comes every 5 s and may land between the two reads)."""
    for _ in range(3):
        health = daemon.core.fleet_health()
        gauges = fleet_gauges(url)
        if health is not None and daemon.core.fleet_health() is health:
            return health, gauges
    raise AssertionError("the fleet health changed under every scrape")


async def test_sharded_daemon_serves_the_merged_fleet_health(tmp_path: Path) -> None:
    names = ["cam0", "cam1"]
    sock_dir = Path(tempfile.mkdtemp(prefix="cwd", dir="/tmp"))  # socket paths: 108 bytes
    async with SimServer(scenario([camera(n) for n in names])) as sim:
        cams = tuple(camera_from_url(url, name=name) for name, url in sim.urls().items())
        options = DaemonOptions(
            db=tmp_path / "history.db",
            metrics="127.0.0.1:0",
            socket=sock_dir / "d.sock",
            shards=2,
        )
        daemon = Daemon(
            Inventory(path=None, cameras=cams), options, writer=LineWriter(io.StringIO())
        )
        run = asyncio.create_task(daemon.run())
        try:
            assert await until(lambda: daemon._started or run.done(), 30)
            assert not run.done(), daemon.writer.out.getvalue()  # type: ignore[attr-defined]
            url = daemon.metrics.url
            # The shards report every 5 s and the parent merges every 5 s: none yet.
            assert daemon.core.fleet_health() is None
            assert fleet_gauges(url) == {}
            viewer, _ = await connect(options.socket, reconnect=False)
            try:
                sub = viewer.subscribe(4096)
                # The first merge may come before both shards have reported.
                assert await until(lambda: merged_shards(daemon) == 2, 30)
                health, gauges = scrape_steady(daemon, url)
                assert health.shards == 2 and health.cameras == 2  # the merge, not a part
                assert gauges["camwatch_fleet_overloaded"] == float(health.overloaded)
                assert gauges["camwatch_fleet_live_cameras"] == health.live
                assert gauges["camwatch_fleet_samples_per_second"] == health.samples_per_s
                assert gauges["camwatch_fleet_decode_cpu_cores"] == health.decode_cpu_pct / 100
                got: list[object] = []
                assert await until(lambda: got.extend(sub.get_nowait()) or health in got, 5)
                arrived = got[got.index(health)]
                assert type(arrived) is FleetHealth and arrived is not health
            finally:
                await viewer.aclose()
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(run, 30) == 0
            shutil.rmtree(sock_dir, ignore_errors=True)
