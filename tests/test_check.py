"""`camwatch check` as a real subprocess against a simulated mixed fleet (the sim in
its own process): exit codes, every format, --only, config errors, no password.

The invocations run concurrently once per module (each costs one observation
window) and the tests below read their results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from camwatch.sim import SimProcess

SECONDS = "3"
SECRET = "S3cretPw"  # the right password of `secure`, the wrong one of `locked`

SCENARIO = """
name = "check-mixed"
loop = 2
seed = 7
[defaults]
size = "320x180"
fps = 10
gop = 1
bitrate = "300k"
[[cameras]]
name = "ok-1"
[[cameras]]
name = "ok-2"
[[cameras]]
name = "secure"
user = "admin"
password = "S3cretPw"
[[cameras]]
name = "gone"
[[cameras]]
name = "stuck"
[[cameras]]
name = "lossy"
[[cameras]]
name = "locked"
user = "admin"
password = "OtherPw9"
[[cameras]]
name = "dark"
[[cameras]]
name = "slow"
[[faults]]
camera = "gone"
fault = "offline"
start = 0
[[faults]]
camera = "stuck"
fault = "stall"
start = 0
[[faults]]
camera = "lossy"
fault = "packet_loss"
start = 0
percent = 5
[[faults]]
camera = "dark"
fault = "black"
start = 0
[[faults]]
camera = "slow"
fault = "low_fps"
start = 0
fps = 2
"""

# name: (site, tags, credentials in the URL)
FLEET = {
    "ok-1": ("north", ["lobby"], ""),
    "ok-2": ("south", ["lobby"], ""),
    "secure": ("north", ["lobby"], f"admin:{SECRET}@"),
    "gone": ("north", [], ""),
    "stuck": ("south", [], ""),
    "lossy": ("south", [], ""),
    "locked": ("north", [], f"admin:{SECRET}@"),
    "dark": ("south", [], ""),
    "slow": ("east", [], ""),
}
RUNS = {
    "text": [],
    "json": ["--format", "json"],
    "nagios": ["--format", "nagios"],
    "tag": ["--only", "lobby"],
    "tag_quiet": ["--only", "lobby", "--quiet"],
    "tag_nagios": ["--only", "lobby", "--format", "nagios"],
    "camera": ["--only", "slow"],
    "camera_nagios": ["--only", "slow", "--format", "nagios"],
    "site_json": ["--only", "south", "--format", "json"],
    "union_waves": ["--only", "ok-1,ok-2,gone", "--format", "json", "--concurrency", "2"],
    "unknown_only": ["--only", "nowhere"],
}


def inventory(port: int) -> str:
    text = ""
    for name, (site, tags, cred) in FLEET.items():
        text += (
            f'[[camera]]\nname = "{name}"\nurl = "rtsp://{cred}127.0.0.1:{port}/{name}"\n'
            f'site = "{site}"\ntags = {json.dumps(tags)}\n'
        )
    return text


def check(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(cwd / "data")}  # no stray history DB
    return subprocess.run(
        [sys.executable, "-m", "camwatch", "check", "--seconds", SECONDS, *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("check")
    scen = tmp / "scenario.toml"
    scen.write_text(SCENARIO)
    with SimProcess(scenario=str(scen)) as sim:
        cfg = tmp / "cameras.toml"
        cfg.write_text(inventory(sim.port))
        cfg.chmod(0o600)  # inline passwords demand it
        with ThreadPoolExecutor(len(RUNS)) as pool:
            futures = {
                k: pool.submit(check, ["--config", str(cfg), *a], tmp) for k, a in RUNS.items()
            }
            yield {k: f.result() for k, f in futures.items()}


def by_name(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["cameras"]}


def test_text_lists_only_the_problems(runs: dict) -> None:
    r = runs["text"]
    assert r.returncode == 2, r.stderr
    out = r.stdout
    assert re.match(r"camwatch check: \d+ critical(, \d+ warning)? of 9 cameras \(3 s window", out)
    for bad in ("gone", "stuck", "locked", "dark", "slow", "lossy"):
        assert re.search(rf"^(CRITICAL|WARNING) {bad} \(", out, re.M), bad
    for good in ("ok-1", "ok-2", "secure"):
        assert not re.search(rf"^\S+ {good} ", out, re.M), good
    assert re.search(r"^CRITICAL gone .*\n  - \[critical\] offline: ", out, re.M)
    assert re.search(r"^CRITICAL stuck .*\n  - \[critical\] stalled: ", out, re.M)
    assert re.search(r"^CRITICAL locked .*admin:\*\*\*@.*\n  - \[critical\] auth_failed", out, re.M)
    assert re.search(r"^CRITICAL dark .*\n  - \[critical\] image: .*black", out, re.M)
    assert re.search(r"^WARNING slow .*\n  - \[warning\] frame rate 2\.\d fps", out, re.M)
    assert "packet loss" in out.split("lossy (", 1)[1]


def test_json_has_every_camera_with_state_stats_and_conditions(runs: dict) -> None:
    r = runs["json"]
    assert r.returncode == 2, r.stderr
    doc = json.loads(r.stdout)
    cams = by_name(doc)
    assert list(cams) == list(FLEET)  # inventory order
    expected = {
        "ok-1": ("live", "ok"),
        "secure": ("live", "ok"),
        "gone": ("offline", "critical"),
        "stuck": ("stalled", "critical"),
        "locked": ("auth_failed", "critical"),
        "dark": ("live", "critical"),
        "slow": ("live", "warning"),
    }
    for name, (state, severity) in expected.items():
        assert (cams[name]["state"], cams[name]["severity"]) == (state, severity), name
    assert cams["ok-1"]["fps"] == pytest.approx(10, abs=1.5)
    assert cams["ok-1"]["codec"] == "h264" and cams["ok-1"]["keyframes_decoded"] >= 1
    assert cams["ok-1"]["site"] == "north" and cams["ok-1"]["tags"] == ["lobby"]
    black = [c for c in cams["dark"]["conditions"] if c["kind"] == "black"]
    assert black and black[0]["active"]
    assert cams["lossy"]["loss_ratio"] > 0.01
    s = doc["summary"]
    assert s["cameras"] == 9 and s["ok"] == 3
    assert s["ok"] + s["warning"] + s["critical"] == 9
    assert s["live"] == sum(1 for c in cams.values() if c["state"] == "live")
    assert (doc["status"], doc["exit_code"]) == ("critical", 2)


def test_nagios_line_and_perfdata(runs: dict) -> None:
    r = runs["nagios"]
    assert r.returncode == 2
    line = r.stdout.strip()
    assert "\n" not in line
    m = re.fullmatch(
        r"CAMWATCH CRITICAL - (\d+) critical(?:, (\d+) warning)? of 9 cameras: (.+) \| "
        r"cameras=9;;;0 live=(\d+);;;0;9 ok=3;;;0;9 warning=(\d+);;;0;9 "
        r"critical=(\d+);;;0;9 duration=[\d.]+s;;;0",
        line,
    )
    assert m, line
    assert m.group(1) == m.group(6) and (m.group(2) or "0") == m.group(5)
    named = m.group(3)
    for part in ("gone offline", "stuck stalled", "locked auth_failed", "dark black", "slow "):
        assert part in named
    assert named.index("locked") < named.index("slow")  # critical before warning


def test_all_healthy_prints_one_ok_line_and_exits_0(runs: dict) -> None:
    r = runs["tag"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.fullmatch(
        r"camwatch check: OK, 3 cameras healthy \(3 s window, [\d.]+ s in all\)\n", r.stdout
    )
    assert runs["tag_quiet"].returncode == 0 and runs["tag_quiet"].stdout == ""
    nagios = runs["tag_nagios"]
    assert nagios.returncode == 0
    assert nagios.stdout.startswith("CAMWATCH OK - 3 cameras healthy | cameras=3;;;0 live=3;;;0;3")


def test_warning_only_exits_1(runs: dict) -> None:
    r = runs["camera"]
    assert r.returncode == 1
    assert r.stdout.startswith("camwatch check: 1 warning of 1 cameras")
    line = runs["camera_nagios"].stdout
    assert runs["camera_nagios"].returncode == 1
    assert line.startswith("CAMWATCH WARNING - 1 warning of 1 cameras: slow frame rate 2.")


def test_only_by_site_and_union(runs: dict) -> None:
    site = json.loads(runs["site_json"].stdout)
    assert list(by_name(site)) == ["ok-2", "stuck", "lossy", "dark"]
    union = json.loads(runs["union_waves"].stdout)
    assert list(by_name(union)) == ["ok-1", "ok-2", "gone"]
    assert union["summary"]["concurrency"] == 2 and union["summary"]["waves"] == 2
    assert runs["union_waves"].returncode == 2


def test_unknown_selection_is_a_usage_error(runs: dict) -> None:
    r = runs["unknown_only"]
    assert r.returncode == 3
    assert '"nowhere" is not a camera, site or tag' in r.stderr and r.stdout == ""


def test_no_password_in_any_output(runs: dict) -> None:
    for name, r in runs.items():
        assert SECRET not in r.stdout + r.stderr, name
    assert "admin:***@" in runs["text"].stdout  # the URLs are shown, redacted


def test_config_error_exits_3_naming_file_camera_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "cameras.toml"
    cfg.write_text(
        f'[[camera]]\nname = "gate-1"\nurl = "rtsp://admin:{SECRET}@127.0.0.1:9/x"\n'
        'stall_timeout = "soon"\n'
        '[[camera]]\nname = "gate-2"\nurl = "rtsp://127.0.0.1:9/y"\nfps = 5\n'
    )
    cfg.chmod(0o600)
    text = check(["--config", str(cfg)], tmp_path)
    assert text.returncode == 3 and text.stdout == ""
    problems = [x for x in text.stderr.splitlines() if x.startswith("  - ")]
    assert len(problems) == 2
    assert str(cfg) in problems[0] and "gate-1" in problems[0] and "stall_timeout" in problems[0]
    assert "gate-2" in problems[1] and "fps" in problems[1]
    nagios = check(["--config", str(cfg), "--format", "nagios"], tmp_path)
    assert nagios.returncode == 3
    assert nagios.stdout.startswith("CAMWATCH UNKNOWN - ") and nagios.stdout.count("\n") == 1
    missing = check(["--config", str(tmp_path / "none.toml")], tmp_path)
    assert missing.returncode == 3 and "none.toml: no such file" in missing.stderr
    for r in (text, nagios, missing):
        assert SECRET not in r.stdout + r.stderr


@pytest.mark.parametrize(
    "args", [["--seconds", "0"], ["--concurrency", "0"], ["--timeout", "-1"], ["--format", "xml"]]
)
def test_bad_options_exit_3(tmp_path: Path, args: list[str]) -> None:
    cfg = tmp_path / "cameras.toml"
    cfg.write_text('[[camera]]\nname = "x"\nurl = "rtsp://127.0.0.1:9/x"\n')
    r = subprocess.run(
        [sys.executable, "-m", "camwatch", "check", "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3, r.stderr
