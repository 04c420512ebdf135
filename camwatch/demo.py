"""`camwatch demo`: the simulated fleet and the whole product, one command.

The simulator runs in its own thread with its own event loop
(camwatch.sim.thread): no orphan server can outlive the demo.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .config import CameraConfig, Inventory
from .sim import SimServer, build_scenario
from .sim.thread import SimThread


def demo_inventory(server: SimServer, db_path: Path) -> Inventory:
    cameras = []
    for name, spec in ((n, server.cameras[n].spec) for n in server.urls()):
        cameras.append(
            CameraConfig(
                name=name,
                url=server.url(name),
                site=spec.site,
                tags=("demo",),
                username=spec.user,
                password=spec.password,
            )
        )
    return Inventory(path=None, cameras=tuple(cameras), sections={"store": {"path": str(db_path)}})


def demo_scenario(cameras: int) -> Any:
    return build_scenario("demo", cameras=cameras)


class DemoRun:
    """Context for the demo: sim thread + a throwaway history database."""

    def __init__(self, cameras: int = 16, port: int = 0) -> None:
        self.sim = SimThread(SimServer(demo_scenario(cameras), port=port))
        self._tmp = tempfile.TemporaryDirectory(prefix="camwatch-demo-")
        self.db_path = Path(self._tmp.name) / "history.sqlite"
        self.server: SimServer | None = None

    def __enter__(self) -> DemoRun:
        self.server = self.sim.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sim.stop()
        self._tmp.cleanup()

    def inventory(self) -> Inventory:
        assert self.server is not None
        return demo_inventory(self.server, self.db_path)
