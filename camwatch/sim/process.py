"""Run `camwatch sim` in a child process (for tests, benchmarks and the demo).

    with SimProcess(cameras=4) as sim:
        sim.urls  # {"cam01": "rtsp://127.0.0.1:PORT/cam01", ...}

The child binds port 0 by default and prints its URLs; SimProcess reads as many
lines as the scenario has cameras (it builds the scenario itself to know), so
start-up errors surface as SimProcessError with the child's stderr. `stop()`
sends SIGINT, waits, and kills only if the child does not exit in time.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from .scenario import build_scenario


class SimProcessError(RuntimeError):
    """The sim child failed to start or to print its URLs in time."""


class SimProcess:
    def __init__(
        self,
        *,
        cameras: int | None = None,
        scenario: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        truth: str | Path | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.expected = len(build_scenario(scenario, cameras).cameras)
        args = [sys.executable, "-m", "camwatch", "sim", "--port", str(port), "--host", host]
        if cameras is not None:
            args += ["--cameras", str(cameras)]
        if scenario is not None:
            args += ["--scenario", scenario]
        if truth is not None:
            args += ["--truth", str(truth)]
        self.args = args + list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.urls: dict[str, str] = {}
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    def start(self) -> dict[str, str]:
        # Kept open for the child's whole life and closed in close(): no `with`.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        try:
            self._read_urls()
        except BaseException:
            self.stop()
            raise
        return self.urls

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:  # keeps the pipe empty for as long as the child lives
            self._lines.put(line.strip())
        self._lines.put(None)

    def _read_urls(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while len(self.urls) < self.expected:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.01, remaining))
            except queue.Empty:
                raise SimProcessError(
                    f"sim printed no URLs in {self.startup_timeout:g} s"
                ) from None
            if line is None:
                raise SimProcessError(f"sim exited during start-up: {self.stderr()[-2000:]}")
            if line.startswith("rtsp://"):
                parts = urlsplit(line)
                self.urls[parts.path.strip("/")] = line
                self.port = parts.port or 554

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT, wait up to timeout, then kill. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def close(self) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> SimProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
