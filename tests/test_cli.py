import subprocess
import sys
from pathlib import Path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camwatch", *args], capture_output=True, text=True, timeout=60
    )


def test_config_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "cameras.toml"
    bad.write_text(
        '[[camera]]\nname="a"\nurl="http://x"\ntransprot="tcp"\n[[camera]]\nname="a"\nurl="rtsp://h/x"\n'
    )
    r = cli("config", "--config", str(bad))
    assert r.returncode == 2
    assert "3 problem(s)" in r.stderr
    assert 'key "transprot"' in r.stderr and 'did you mean "transport"' in r.stderr
    assert "duplicate camera name" in r.stderr and str(bad) in r.stderr


def test_config_refuses_password_in_a_world_readable_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "cameras.toml"
    inv.write_text('[[camera]]\nname="a"\nurl="rtsp://admin:Hunter2@h/x"\n')
    inv.chmod(0o644)
    r = cli("config", "--config", str(inv))
    assert r.returncode == 2 and "chmod 600" in r.stderr
    assert "Hunter2" not in r.stdout + r.stderr
    inv.chmod(0o600)
    r = cli("config", "--config", str(inv))
    assert r.returncode == 0 and "admin:***@h" in r.stdout and "Hunter2" not in r.stdout


def test_usage_errors_exit_3() -> None:
    assert cli("probe").returncode == 3
    assert cli("no-such-command").returncode == 3
    assert cli("probe", "rtsp://127.0.0.1/x", "--seconds", "0").returncode == 3
    bad = cli("eval", "--healthy-interval", "-1")
    assert bad.returncode == 3 and "--healthy-interval" in bad.stderr


def test_headless_commands_never_import_textual() -> None:
    code = (
        "import sys; from camwatch.cli import build_parser; build_parser();"
        "import camwatch.fleet, camwatch.probe, camwatch.commands.probe;"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if 'textual' in m)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
