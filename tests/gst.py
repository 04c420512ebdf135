"""Running Debian's gst-rtsp-server (tests/servers/gst_rtsp.py) for tests."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).parent / "servers" / "gst_rtsp.py"
INSTALL_HINT = (
    "apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-rtsp"
)


@functools.cache
def gst_missing() -> str | None:
    """Why the reference server cannot run here, or None when it can."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} not found"
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('x265enc')"
    )
    r = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=60)
    if r.returncode != 0:
        return "gst-rtsp-server or its x264/x265 plugins are missing: " + INSTALL_HINT
    return None


def require_gst() -> None:
    """Fail under CI (the packages are part of its install), skip elsewhere."""
    why = gst_missing()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class GstServer:
    port: int
    digest: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def url(self, path: str = "/h264", scheme: str = "rtsp", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 20.0) -> GstServer:
        args = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port)]
        if self.digest:
            args += ["--digest", self.digest]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until READY or exit
        if not line.startswith("READY") or time.monotonic() > deadline:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.stop()
            raise RuntimeError(f"gst server did not start: {line!r} {err[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def start_server(digest: str | None = None, port: int | None = None) -> GstServer:
    require_gst()
    return GstServer(port or free_port(), digest).start()


def python_cmd() -> list[str]:
    return [sys.executable, "-m", "camwatch"]
