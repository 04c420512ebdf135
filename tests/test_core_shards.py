"""CoreOptions.shards: the core's cameras in worker processes, their states on
the core's bus (real simulator over loopback, real shard processes)."""

from __future__ import annotations

import argparse
import os

import pytest
from simfixtures import camera, scenario, until

from camwatch.commands import daemon as daemon_cmd
from camwatch.config import Inventory, camera_from_url
from camwatch.core import SHARD_FROM, Core, CoreOptions, auto_shards
from camwatch.sim import SimServer
from camwatch.state import Status


async def test_shards_from_the_options_run_cameras_in_processes_that_feed_the_bus() -> None:
    names = [f"cam{i}" for i in range(3)]
    async with SimServer(scenario([camera(n) for n in names])) as sim:
        cams = tuple(camera_from_url(url, name=name) for name, url in sim.urls().items())
        core = Core(Inventory(path=None, cameras=cams), CoreOptions(store=False, shards=2))
        await core.start()
        try:
            pids = core.fleet.shard_pids()
            assert len(pids) == 2 and os.getpid() not in pids
            states = core.bus.states
            assert await until(
                lambda: all(
                    n in states() and states()[n].status is Status.LIVE
                    and states()[n].decode.keyframes_decoded > 0
                    for n in names
                ),
                30,
            )  # fmt: skip
            # Analysed in the shard: the analysis result crossed over with the state.
            assert all(states()[n].analysis is not None for n in names)
        finally:
            await core.stop()
        assert core.fleet.shard_pids() == []


async def test_a_small_fleet_stays_in_one_process_by_default() -> None:
    cams = tuple(camera_from_url(f"rtsp://127.0.0.1:9/c{i}", name=f"c{i}") for i in range(3))
    core = Core(Inventory(path=None, cameras=cams), CoreOptions(store=False))
    assert core.fleet.shards == 1


def test_automatic_shards_follow_the_fleet_size_and_the_cores() -> None:
    assert auto_shards(SHARD_FROM - 1, cpus=8) == 1
    assert auto_shards(SHARD_FROM, cpus=2) == 2
    assert auto_shards(1000, cpus=8) == 8
    assert auto_shards(1000, cpus=1) == 1
    with pytest.raises(ValueError, match="shards must be at least 1"):
        CoreOptions(shards=0)


def test_daemon_refuses_a_bad_shard_count(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    daemon_cmd.add_arguments(parser)
    assert daemon_cmd.run(parser.parse_args(["--shards", "0"])) == 3
    assert "--shards must be between 1 and 64" in capsys.readouterr().err
