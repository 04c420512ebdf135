"""A SimServer on a private event loop in a daemon thread.

The demo and the scored evaluation run the simulator in their own process:
it shares no state with the monitor (reached over loopback RTSP like a real
camera), and a thread cannot outlive the process, so Ctrl+C or a lost SSH
session leaves no orphan server behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading

from .server import SimServer


class SimThread:
    def __init__(self, server: SimServer, name: str = "camwatch-sim") -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    def start(self, timeout: float = 120.0) -> SimServer:
        """Start serving (encoding first, as the server was built to); blocks."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout)
        return self.server

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (bounded), then the loop and the thread."""
        if self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, Exception):
                fut.result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
