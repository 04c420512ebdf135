"""`camwatch sim` as a user (or another test suite) runs it: a real child process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camwatch.sim.process import SimProcess, SimProcessError

SMALL = ["--size", "320x180", "--fps", "10", "--gop", "1", "--bitrate", "200k"]


def describe(port: int, path: str) -> str:
    """The status line of a DESCRIBE sent over a plain blocking socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        request = f"DESCRIBE rtsp://127.0.0.1:{port}/{path} RTSP/1.0\r\nCSeq: 1\r\n\r\n"
        sock.sendall(request.encode())
        return sock.makefile("rb").readline().decode().strip()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_prints_urls_serves_them_and_stops_cleanly(sig: signal.Signals) -> None:
    sim = SimProcess(cameras=3, extra_args=SMALL)
    sim.start()
    try:
        assert list(sim.urls) == ["cam01", "cam02", "cam03"]
        assert sim.urls["cam02"] == f"rtsp://127.0.0.1:{sim.port}/cam02"
        assert sim.port > 0
        assert describe(sim.port, "cam02") == "RTSP/1.0 200 OK"
        assert describe(sim.port, "cam04") == "RTSP/1.0 404 Not Found"
        assert sim.proc is not None
        sim.proc.send_signal(sig)
        assert sim.proc.wait(10) == 0
        err = sim.stderr()
    finally:
        sim.close()
    assert "Traceback" not in err
    assert "serving 3 camera(s)" in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()


def test_cli_scenario_file_truth_and_duration(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'duration = 2.5\n[[cameras]]\nname = "gate"\n'
        '[[faults]]\ncamera = "gate"\nfault = "stall"\nstart = 0.5\nend = 1.5\n'
    )
    truth = tmp_path / "truth.json"
    began = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "camwatch", "sim", "--port", "0", "--scenario", str(scenario),
         "--truth", str(truth), *SMALL],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[0].endswith("/gate")
    entries = json.loads(truth.read_text())
    assert [(e["camera"], e["fault"], e["start"], e["end"]) for e in entries] == [
        ("gate", "stall", 0.5, 1.5)
    ]
    assert began < entries[0]["start_unix"] < time.time()


def test_cli_reports_bad_input_with_exit_code_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[cameras]]\nname = 'x'\nfps = -1\n")
    cases = [
        (["--scenario", "no-such-scenario"], "no built-in scenario or file named"),
        (["--scenario", str(bad)], "fps must be a positive number"),
        (["--size", "big"], "is not like 640x360"),
        (["--port", "70000"], "is not a port number"),
    ]
    for args, message in cases:
        done = subprocess.run(
            [sys.executable, "-m", "camwatch", "sim", *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 3, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SimProcessError, match="cannot start"):
            SimProcess(cameras=1, port=port, extra_args=SMALL).start()
