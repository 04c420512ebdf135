"""`camwatch report` against a hand-computed history written into a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from camwatch.alerts.model import Silence
from camwatch.cli import main
from camwatch.state import Status
from camwatch.store.db import StatusInterval, Store
from camwatch.store.report import camera_report

T0 = datetime(2026, 11, 1, 0, 0).timestamp()  # local time, as --since parses it
SINCE, UNTIL = "2026-11-01T00:00", "2026-11-01T02:46:40"  # a 10000 s window

# Hand-computed figures for the history written below (seconds):
#   cam-a: incidents 1000-1400 (offline then connecting: 400), 5000-5200 (stalled: 200),
#          9000-end (offline, still open: 1000); observed 10000 -> downtime 1600,
#          availability 84 %, MTTR (400 + 200) / 2 = 300.
#   cam-b: a 5 s reconnect (no failure: no incident); offline 4000-6000 of which
#          3500-5000 is a maintenance window for site "south"; unmonitored 8000-9000.
#          observed 9000 - 1500 maintenance = 7500, downtime 1000 -> 86.667 %, MTTR 1000.
#   cam-c: live all along apart from 1000 s stopped; a plain silence changes nothing.
#   cam-d: in the inventory, no history.
EXPECTED = {
    "cam-a": dict(observed_s=10000, downtime_s=1600, incidents=3, recovered=2, mttr_s=300),
    "cam-b": dict(observed_s=7500, downtime_s=1000, incidents=1, recovered=1, mttr_s=1000),
    "cam-c": dict(observed_s=9000, downtime_s=0, incidents=0, recovered=0, mttr_s=None),
}
AVAILABILITY = {"cam-a": 0.84, "cam-b": 1 - 1000 / 7500, "cam-c": 1.0, "cam-d": None}


async def write_history(path: Path) -> None:
    store = await Store.open(path)
    store.put_camera("cam-b", "south", ("lobby",), at=T0)
    for status, t in [
        (Status.LIVE, 0),
        (Status.CONNECTING, 2000),
        (Status.LIVE, 2005),
        (Status.OFFLINE, 4000),
        (Status.LIVE, 6000),
    ]:
        store.put_status("cam-b", status, "", T0 + t)
    store.close_intervals(T0 + 8000)  # the daemon stopped for 1000 s
    store.put_status("cam-b", Status.LIVE, "", T0 + 9000)
    store.put_camera("cam-a", "north", ("gate",), at=T0)
    for status, t in [
        (Status.LIVE, -1000),
        (Status.OFFLINE, 1000),
        (Status.CONNECTING, 1300),
        (Status.LIVE, 1400),
        (Status.STALLED, 5000),
        (Status.LIVE, 5200),
        (Status.OFFLINE, 9000),
    ]:
        store.put_status("cam-a", status, "", T0 + t)
    store.put_camera("cam-c", "north", ("gate",), at=T0)
    for status, t in [(Status.LIVE, -5000), (Status.STOPPED, 6000), (Status.LIVE, 7000)]:
        store.put_status("cam-c", status, "", T0 + t)
    await store.add_silence(
        Silence(None, "site", "south", T0 + 3500, T0 + 5000, "switch swap", "ann", True)
    )
    await store.add_silence(Silence(None, "camera", "cam-c", T0, T0 + 10000, "noisy", "ann"))
    await store.add_silence(Silence(None, "site", "west", T0, T0 + 10000, "other", "ann", True))
    await store.close()


@pytest.fixture
async def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    await write_history(path)
    return path


@pytest.fixture
def inventory(tmp_path: Path, history: Path) -> Path:
    cams = [("cam-a", "north", "gate"), ("cam-b", "south", "lobby")]
    cams += [("cam-c", "north", "gate"), ("cam-d", "south", "lobby")]
    text = f'[store]\npath = "{history}"\n'
    for name, site, tag in cams:
        text += (
            f'\n[[camera]]\nname = "{name}"\nurl = "rtsp://10.0.0.1/{name}"\n'
            f'site = "{site}"\ntags = ["{tag}"]\n'
        )
    path = tmp_path / "cameras.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", "--since", SINCE, "--until", UNTIL, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_figures_match_the_hand_computed_history(
    capsys: pytest.CaptureFixture[str], inventory: Path
) -> None:
    code, out, err = report(capsys, "--config", str(inventory), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["until"] - doc["since"] == pytest.approx(10000)
    rows = {r["camera"]: r for r in doc["cameras"]}
    assert [r["camera"] for r in doc["cameras"]] == ["cam-a", "cam-b", "cam-c", "cam-d"]
    for name, expected in EXPECTED.items():
        for key, value in expected.items():
            assert rows[name][key] == pytest.approx(value), (name, key)
        assert rows[name]["availability"] == pytest.approx(AVAILABILITY[name])
    assert rows["cam-a"]["open_incident"] is True
    assert rows["cam-b"]["maintenance_s"] == pytest.approx(1500)
    assert rows["cam-d"]["availability"] is None and rows["cam-d"]["observed_s"] == 0


def test_table_is_worst_first_and_readable(
    capsys: pytest.CaptureFixture[str], history: Path
) -> None:
    code, out, _ = report(capsys, "--db", str(history))
    assert code == 0
    lines = [line.split() for line in out.splitlines() if line.startswith("cam-")]
    assert [line[0] for line in lines] == ["cam-a", "cam-b", "cam-c"]
    a, b, c = (" ".join(x) for x in lines)
    assert "(down)" in a and "84.000%" in a and "5m 00s" in a and "26m 40s" in a
    assert "86.667%" in b and "16m 40s 16m 40s" in b
    assert "100.000%" in c and " 0 - 0s " in f" {c} "


def test_csv_has_raw_seconds(capsys: pytest.CaptureFixture[str], history: Path) -> None:
    code, out, _ = report(capsys, "--db", str(history), "--format", "csv")
    assert code == 0
    rows = {r["camera"]: r for r in csv.DictReader(io.StringIO(out))}
    assert float(rows["cam-a"]["downtime_s"]) == pytest.approx(1600)
    assert float(rows["cam-b"]["mttr_s"]) == pytest.approx(1000)
    assert rows["cam-c"]["mttr_s"] == ""


def test_a_window_inside_an_incident(history: Path) -> None:
    ivs = [
        StatusInterval("x", "live", "", 0, 100),
        StatusInterval("x", "offline", "", 100, 400),
        StatusInterval("x", "live", "", 400, None),
    ]
    r = camera_report("x", "", ivs, [], 200, 1000)  # starts mid-outage
    assert (r.incidents, r.recovered, r.downtime_s, r.mttr_s) == (1, 1, 200, 200)
    assert r.availability == pytest.approx(1 - 200 / 800)
    r = camera_report("x", "", ivs, [(50, 500)], 0, 1000)  # the outage was maintenance
    assert (r.incidents, r.downtime_s, r.availability) == (0, 0, 1.0)


def test_report_runs_as_a_command_while_the_database_is_open(history: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camwatch", "report", "--db", str(history), "--since", "3650d"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cam-a" in proc.stdout and "AVAILABILITY" in proc.stdout


def test_usage_errors_exit_3_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "none.db"
    code, _, err = report(capsys, "--db", str(missing))
    assert code == 3 and "no history database" in err and str(missing) in err
    assert not missing.exists()
    code = main(["report", "--db", str(missing), "--since", "last tuesday"])
    _, err = capsys.readouterr()
    assert code == 3 and "7d" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[camera]]\nname = 1\n")
    code = main(["report", "--config", str(bad)])
    _, err = capsys.readouterr()
    assert code == 3 and "inventory" in err
