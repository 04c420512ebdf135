"""`camwatch demo`: the simulated fleet and the whole product, one command.

The simulator runs in its own thread with its own event loop: it shares no
state with the monitor (it is reached over RTSP on loopback, like a real
camera), and a thread cannot outlive the process, so Ctrl+C or a lost SSH
session leaves no orphan server behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import tempfile
import threading
from pathlib import Path
from typing import Any

from .config import CameraConfig, Inventory
from .sim import SimServer, build_scenario


class SimThread:
    """A SimServer on a private event loop in a daemon thread."""

    def __init__(self, scenario: Any, port: int = 0) -> None:
        self.scenario = scenario
        self.port = port
        self.server: SimServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="camwatch-sim", daemon=True
        )

    def start(self, timeout: float = 120.0) -> SimServer:
        self._thread.start()
        self.server = SimServer(self.scenario, port=self.port)
        fut = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop)
        fut.result(timeout)
        return self.server

    def stop(self, timeout: float = 15.0) -> None:
        if self.server is not None and self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, Exception):
                fut.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


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
        self.sim = SimThread(demo_scenario(cameras), port)
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
