"""The user-facing commands end to end: demo (headless and TUI), snapshot,
baseline and bare `camwatch`, each as a real process against the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from simfixtures import camera, scenario
from test_tui_pty import read_until

from camwatch.sim import SimServer

CLI = [sys.executable, "-m", "camwatch"]


async def run_cli(*args: str, within: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), within)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(scenario([camera("cam"), camera("priv")])) as server:
        yield server


def inventory(tmp_path: Path, sim: SimServer, extra: str = "") -> Path:
    path = tmp_path / "cameras.toml"
    path.write_text(
        f'[store]\npath = "{tmp_path / "h.sqlite"}"\n'
        f'[[camera]]\nname = "cam"\nurl = "{sim.url("cam")}"\n'
        f'[[camera]]\nname = "priv"\nurl = "{sim.url("priv")}"\n{extra}'
    )
    path.chmod(0o600)
    return path


async def test_snapshot_prints_a_frame_and_audits_the_view(tmp_path: Path, sim: SimServer) -> None:
    inv = inventory(tmp_path, sim)
    code, out, err = await run_cli(
        "snapshot", "cam", "--config", str(inv), "--colors", "mono", "--width", "40"
    )
    assert code == 0, err
    rows = out.rstrip("\n").split("\n")
    assert len(rows) >= 8 and all(len(r) == 40 for r in rows)
    assert len(set(out) - {"\n"}) >= 4  # a real picture, not a flat block
    db = sqlite3.connect(tmp_path / "h.sqlite")
    views = db.execute(
        "SELECT action, target FROM audit WHERE action = 'thumbnail_view'"
    ).fetchall()
    assert views == [("thumbnail_view", "camera:cam")]


async def test_snapshot_honours_privacy(tmp_path: Path, sim: SimServer) -> None:
    inv = inventory(
        tmp_path, sim, "privacy_masks = [[0.0, 0.0, 0.5, 1.0]]\n"
    )  # left half of "priv"
    code, out, _ = await run_cli(
        "snapshot", "priv", "--config", str(inv), "--colors", "mono", "--width", "40"
    )
    assert code == 0
    rows = out.rstrip("\n").split("\n")
    assert all(set(r[:19]) == {" "} for r in rows)  # masked: black
    assert any(set(r[21:]) - {" "} for r in rows)  # the rest is seen
    off = inventory(tmp_path, sim, 'thumbnails = "off"\n')
    code, out, err = await run_cli("snapshot", "priv", "--config", str(off), "--colors", "mono")
    assert code == 2 and out == "" and "off" in err


async def test_baseline_without_daemon_is_stored(tmp_path: Path, sim: SimServer) -> None:
    inv = inventory(tmp_path, sim)
    env_socket = str(tmp_path / "no-daemon.sock")
    code, _out, err = await run_cli(
        "baseline", "cam", "--config", str(inv), "--seconds", "5", "--socket", env_socket
    )
    assert code == 0, err
    db = sqlite3.connect(tmp_path / "h.sqlite")
    ((camera_name, size),) = db.execute("SELECT camera, length(data) FROM baselines").fetchall()
    assert camera_name == "cam" and size > 1000


def test_bare_camwatch_without_inventory_points_to_the_demo(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run(CLI, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "camwatch demo" in r.stderr


def _children(pid: int) -> list[str]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return out.split()


def test_demo_headless_shows_the_fleet_and_stops_cleanly_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*CLI, "demo", "--headless", "--cameras", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if re.search(r"4 cameras: 4 live", line):
            break
    assert any("4 cameras: 4 live" in ln for ln in lines), lines
    assert _children(proc.pid) == []  # the simulator is a thread, not a process
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err + out


def test_demo_opens_the_tui_in_a_terminal() -> None:
    master, slave = os.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="30")
    proc = subprocess.Popen(
        [*CLI, "demo", "--cameras", "4"], stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    try:
        screen = read_until(master, b"north-02", timeout=90)
        assert b"north-02" in screen
        screen += read_until(master, b"live", timeout=30)
        assert b"live" in screen
        os.write(master, b"q")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
