"""run_tui in a real pseudo-terminal: starts, draws, quits on `q`, and exits on hang-up."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys
from camwatch.tui import sample
from camwatch.bus import LocalBus
from camwatch.control import MemoryControl
from camwatch.tui.app import run_tui
bus = LocalBus()
ctl = MemoryControl(bus)
sample.populate(bus, ctl, sample.fleet(50))
sys.exit(run_tui(bus, ctl, colors="256", mouse=False, theme_dir="/nonexistent"))
"""


def start() -> tuple[subprocess.Popen[bytes], int]:
    master, slave = os.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def read_until(master: int, needle: bytes, timeout: float = 20.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


def finish(proc: subprocess.Popen[bytes], master: int) -> int:
    try:
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_quits_cleanly_on_q() -> None:
    proc, master = start()
    screen = read_until(master, b"cam-0")
    assert b"live" in screen
    os.write(master, b"q")
    assert finish(proc, master) == 0


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_exits_on_hangup() -> None:
    proc, master = start()
    read_until(master, b"cam-0")
    proc.send_signal(signal.SIGHUP)
    assert finish(proc, master) == 129
