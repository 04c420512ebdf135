"""`camwatch daemon` as a real subprocess against the simulator (in its own process):
a stall injected and cleared reaches a real webhook receiver exactly once each way,
a silence set through the daemon's socket suppresses the notification but not the
record, SIGHUP adds a camera without touching the others, SIGTERM stops cleanly,
kill -9 under load leaves a sound database, and the metrics endpoint answers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from test_notify import Receiver

from camwatch.daemon import (
    DaemonError,
    LineWriter,
    SystemdNotifier,
    check_metrics_bind,
    event_fields,
    logfmt,
)
from camwatch.sim import SimProcess
from camwatch.state import Status, StatusChanged
from camwatch.store.db import Store

STALL_START, STALL_END = 15.0, 21.0  # seconds of sim time: the daemon is settled by then

SCENARIO = f"""
name = "daemon-test"
loop = 2
seed = 3
[defaults]
size = "320x180"
fps = 10
gop = 1
bitrate = "300k"
[[cameras]]
name = "gate"
site = "north"
[[cameras]]
name = "quiet"
site = "north"
[[cameras]]
name = "cam-a"
site = "south"
[[cameras]]
name = "cam-b"
site = "south"
[[cameras]]
name = "extra"
site = "south"
[[faults]]
camera = ["gate", "quiet"]
fault = "stall"
start = {STALL_START}
end = {STALL_END}
"""

FAST = """
[defaults]
stall_timeout = 1
connect_timeout = 2
[rules.stalled]
raise_after = 1
clear_after = 1
[rules.offline]
raise_after = 1
clear_after = 1
"""


def inventory(urls: dict[str, str], names: list[str], db: Path, hook: str | None = None) -> str:
    text = FAST + f'[store]\npath = "{db}"\nretention_days = 7\n'
    if hook:
        text += f'[notify]\nwebhooks = [{{ url = "{hook}", timeout = 2 }}]\ndigest_window = 0.3\n'
    for name in names:
        site = "north" if name in ("gate", "quiet") else "south"
        text += f'[[camera]]\nname = "{name}"\nurl = "{urls[name]}"\nsite = "{site}"\n'
    return text


class NotifySocket:
    """What systemd would read: sd_notify datagrams on a bound Unix socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while not self._stop:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def fields(self) -> list[str]:
        return [f for m in list(self.messages) for f in m.split("\n")]

    def __enter__(self) -> NotifySocket:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


class DaemonProc:
    """`python -m camwatch daemon ...` with its stderr collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for key in ("INVOCATION_ID", "JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
            if key not in (env or {}):
                full_env.pop(key, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "camwatch", "daemon", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def line(self, pattern: str) -> re.Match[str] | None:
        for line in list(self.lines):
            m = re.search(pattern, line)
            if m:
                return m
        return None

    def metrics_url(self) -> str:
        m = self.line(r"started .*metrics=(http://\S+)")
        assert m, self.text()
        return m.group(1)

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)


class RtspSpy:
    """A TCP relay in front of one sim camera that keeps what the client sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent = bytearray()
        self.server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RtspSpy:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"rtsp://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/{path}"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        tasks = [
            asyncio.create_task(self._pipe(reader, up_writer, self.sent)),
            asyncio.create_task(self._pipe(up_reader, writer, None)),
        ]
        self._pipes.update(tasks)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bytearray | None
    ) -> None:
        try:
            while data := await src.read(65536):
                if keep is not None:
                    keep.extend(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()


async def until(predicate: Callable[[], object], seconds: float, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        await asyncio.sleep(0.1)


def scrape(url: str) -> dict[str, dict[str, float]]:
    """{metric: {camera: value}} for the per-camera series of a real scrape."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read().decode()
    out: dict[str, dict[str, float]] = {}
    for m in re.finditer(r'^(camwatch_\w+)\{camera="([^"]+)"[^}]*\} (\S+)$', body, re.M):
        out.setdefault(m.group(1), {})[m.group(2)] = float(m.group(3))
    return out


def up(url: str) -> dict[str, float]:
    try:
        return scrape(url).get("camwatch_camera_up", {})
    except OSError:
        return {}


def all_up(url: str, names: list[str]) -> bool:
    series = up(url)
    return all(series.get(n) == 1.0 for n in names)


def webhook_events(rx: Receiver, camera: str) -> list[str]:
    with rx.lock:
        bodies = list(rx.bodies)
    return [b["event"] for b in bodies if b.get("alert", {}).get("camera") == camera]


# -- end to end ---------------------------------------------------------------------------


async def test_daemon_fault_silence_reload_and_clean_stop(tmp_path: Path) -> None:
    from camwatch.remote import connect

    scen = tmp_path / "scenario.toml"
    scen.write_text(SCENARIO)
    db, cfg, sock = tmp_path / "history.db", tmp_path / "cameras.toml", tmp_path / "cw.sock"
    first = ["gate", "quiet", "cam-a", "cam-b"]
    await seed_history(db)
    with (
        SimProcess(scenario=str(scen)) as sim,
        Receiver() as rx,
        NotifySocket(tmp_path / "notify.sock") as ns,
    ):
        spy = await RtspSpy(sim.port).__aenter__()
        urls = {**sim.urls, "cam-a": spy.url("cam-a")}  # cam-a through the spy
        cfg.write_text(inventory(urls, first, db, rx.url))
        env = {
            "NOTIFY_SOCKET": str(ns.path),
            "INVOCATION_ID": "0123abcd",
            "JOURNAL_STREAM": "8:1",
            "WATCHDOG_USEC": "2000000",
        }
        args = ["--config", str(cfg), "--metrics", "127.0.0.1:0", "--socket", str(sock)]
        d = DaemonProc(args, env)
        try:
            await until(lambda: "READY=1" in ns.fields(), 30, f"READY=1\n{d.text()}")
            metrics = d.metrics_url()
            await until(lambda: all_up(metrics, first), 15, "all cameras live")

            # A maintenance silence set through the socket, as a TUI would.
            bus, control = await connect(sock, reconnect=False)
            try:
                silence = await control.silence("camera", "quiet", 3600, "lens cleaning", "tester")
            finally:
                await bus.aclose()
            assert silence.id is not None

            # SIGHUP with one more camera: it starts, the others keep their sessions.
            before = scrape(metrics)["camwatch_camera_reconnects_total"]
            cfg.write_text(inventory(urls, [*first, "extra"], db, rx.url))
            reload_at = len(d.lines)
            d.send(signal.SIGHUP)
            await until(lambda: all_up(metrics, [*first, "extra"]), 15, "extra live")
            after = scrape(metrics)["camwatch_camera_reconnects_total"]
            assert {n: after[n] for n in first} == before
            since_reload = d.lines[reload_at:]
            assert any("reloaded" in x and "added=extra" in x for x in since_reload)
            # A restarted session would log connecting -> live again.
            assert not [x for x in since_reload if re.search(r"status camera=(?!extra )", x)]

            # A broken file: every problem reported, the running configuration kept.
            good = cfg.read_text()
            cfg.write_text(good.replace('name = "extra"', 'name = "extra"\nstall_timeout = "x"'))
            d.send(signal.SIGHUP)
            await until(lambda: d.line("reload failed"), 10, "reload failed")
            problem = d.line(r"reload problem: .*")
            assert problem and str(cfg) in problem.group(0)
            assert "extra" in problem.group(0) and "stall_timeout" in problem.group(0)
            assert all_up(metrics, [*first, "extra"])

            # The stall comes and goes: one raise, one resolve for gate; quiet is silenced.
            await until(
                lambda: "resolved" in webhook_events(rx, "gate"),
                STALL_END + 25,
                f"resolved notification\n{d.text()}",
            )
            await asyncio.sleep(1.5)  # anything extra would arrive by now
            assert webhook_events(rx, "gate") == ["raised", "resolved"]
            assert webhook_events(rx, "quiet") == []

            assert b"TEARDOWN" not in spy.sent
            d.send(signal.SIGTERM)
            assert await asyncio.to_thread(d.wait, 30) == 0  # the spy relays meanwhile
            assert re.search(rb"TEARDOWN rtsp://\S+/cam-a\S* RTSP/1.0\r\n", spy.sent)
        finally:
            d.close()
            await spy.__aexit__()
    log = d.text()
    assert "Traceback" not in log
    fields = ns.fields()
    assert "STOPPING=1" in fields and "RELOADING=1" in fields
    assert fields.count("WATCHDOG=1") >= 10  # every second for 20+ s
    assert any(re.fullmatch(r"STATUS=5 cameras: 5 live", f) for f in fields)
    # Under systemd: sd-daemon priority prefixes, no timestamps (journald adds them).
    stalled = d.line(r"^<4>status camera=gate site=north old=live new=stalled ")
    assert stalled, log
    assert d.line(r"^<3>alert raised camera=quiet .*silenced=yes")
    assert d.line(r"^<5>stopped$")
    assert not sock.exists()

    store = await Store.open(db, readonly=True)
    try:
        assert await store.integrity_check() == "ok"
        alerts = {(a.camera, a.rule): a for a in await store.alerts(limit=100)}
        gate, quiet = alerts[("gate", "stalled")], alerts[("quiet", "stalled")]
        assert gate.state.value == "resolved" and not gate.silenced
        assert quiet.silenced and quiet.state.value == "resolved"
        silences = await store.silences()
        assert [(s.target, s.reason) for s in silences] == [("quiet", "lens cleaning")]
        actions = [e.action for e in await store.audit_log()]
        assert "config_reload" in actions
        # Retention ran at start: 40 days is past [store] retention_days = 7, 1 hour is not.
        kept = await store.health(camera="old-cam")
        assert [round((time.time() - h.minute) / 3600) for h in kept] == [1]
    finally:
        await store.close()
    assert d.line(r"^<6>retention .*health_minute=1")


async def seed_history(db: Path) -> None:
    """Two health minutes of a camera, 40 days and 1 hour old."""
    await (await Store.open(db)).close()  # creates the schema
    con = sqlite3.connect(db)
    with con:
        for age in (40 * 86400, 3600):
            con.execute(
                "INSERT INTO health_minute (camera, minute, observed_s, live_s, status, samples)"
                " VALUES (?, ?, 60, 60, 'live', 60)",
                ("old-cam", int(time.time() - age) // 60 * 60),
            )
    con.close()


async def test_kill_9_under_heavy_writing_leaves_a_sound_database(tmp_path: Path) -> None:
    # 40 cameras, half of them dropped by the sim 1 s into every session: a constant
    # stream of status changes and alerts for the store to write while it is killed.
    names = [f"cam-{i:02d}" for i in range(1, 41)]
    flaky = names[::2]
    scen, db, cfg = tmp_path / "scenario.toml", tmp_path / "history.db", tmp_path / "cameras.toml"
    scen.write_text(
        'name = "kill9"\nloop = 2\n[defaults]\nsize = "320x180"\nfps = 10\ngop = 1\n'
        'bitrate = "200k"\n[[cameras]]\nprefix = "cam-"\ncount = 40\n'
        f'[[faults]]\ncamera = {flaky!r}\nfault = "disconnect"\nstart = 0\nafter = 1\n'
    )
    with SimProcess(scenario=str(scen)) as sim:
        assert sorted(sim.urls) == names
        cfg.write_text(inventory(sim.urls, [], db) + _cams(sim.urls))
        d = DaemonProc(["--config", str(cfg), "--metrics", "127.0.0.1:0", "--no-socket"])
        try:
            await until(lambda: d.line("started"), 30, f"started\n{d.text()}")
            metrics = d.metrics_url()
            steady = [n for n in names if n not in flaky]
            await until(lambda: all_up(metrics, steady), 30, "steady cameras live")
            assert sorted(up(metrics)) == names  # camwatch_camera_up for every camera
            for _ in range(4):  # each reload commits audit rows
                d.send(signal.SIGHUP)
                await asyncio.sleep(0.3)
            await until(lambda: _committed(db)["reloads"] >= 4, 10, "reloads committed")
            earlier = _committed(db)
            await until(
                lambda: _committed(db)["intervals"] > earlier["intervals"] + 20, 15, "writing"
            )
            seen = _committed(db)  # a reader sees only what is committed
            os.kill(d.proc.pid, signal.SIGKILL)
            assert d.wait(10) == -signal.SIGKILL
        finally:
            d.close()
    # Outside systemd, lines carry an ISO timestamp.
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} started ", d.lines[0]), d.lines[0]
    after = _committed(db)
    assert after["integrity"] == "ok"
    for key in ("cameras", "intervals", "reloads", "alerts"):
        assert after[key] >= seen[key], (key, seen, after)
    assert seen["cameras"] == 40 and seen["alerts"] > 0
    store = await Store.open(db)  # the daemon's own open: migrations, crash recovery
    try:
        assert await store.integrity_check() == "ok"
        intervals = await store.intervals(0, time.time() + 60)
        assert len(intervals) >= seen["intervals"]  # type: ignore[operator]
        assert all(i.end is not None for i in intervals)  # open ones closed at the last heartbeat
    finally:
        await store.close()


def _cams(urls: dict[str, str]) -> str:
    return "".join(f'[[camera]]\nname = "{n}"\nurl = "{u}"\n' for n, u in sorted(urls.items()))


def _committed(db: Path) -> dict[str, object]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return {"reloads": 0, "intervals": 0}
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "integrity": one("PRAGMA integrity_check"),
            "cameras": one("SELECT count(*) FROM cameras"),
            "intervals": one("SELECT count(*) FROM state_changes"),
            "reloads": one("SELECT count(*) FROM audit WHERE action = 'config_reload'"),
            "alerts": one("SELECT count(*) FROM alerts"),
        }
    except sqlite3.OperationalError:  # not created yet
        return {"reloads": 0, "intervals": 0}
    finally:
        con.close()


# -- start-up refusals (no simulator needed) ------------------------------------------------


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    skip = ("NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    return subprocess.run(
        [sys.executable, "-m", "camwatch", "daemon", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def test_public_metrics_address_refused_without_flag(tmp_path: Path) -> None:
    cfg = tmp_path / "cameras.toml"
    cfg.write_text('[[camera]]\nname = "x"\nurl = "rtsp://127.0.0.1:9/x"\n')
    args = ["--config", str(cfg), "--db", str(tmp_path / "h.db"), "--no-socket"]
    r = _run([*args, "--metrics", "0.0.0.0:9108"], tmp_path)
    assert r.returncode == 3
    assert "--metrics-public" in r.stderr and "0.0.0.0:9108" in r.stderr
    assert "Traceback" not in r.stderr


def test_unusable_database_fails_with_its_path(tmp_path: Path) -> None:
    cfg = tmp_path / "cameras.toml"
    cfg.write_text('[[camera]]\nname = "x"\nurl = "rtsp://127.0.0.1:9/x"\n')
    (tmp_path / "not-a-db").write_bytes(b"garbage, not SQLite" * 100)
    args = ["--config", str(cfg), "--db", str(tmp_path / "not-a-db"), "--no-socket"]
    r = _run([*args, "--metrics", "off"], tmp_path)
    assert r.returncode == 1
    assert "cannot start" in r.stderr and "not-a-db" in r.stderr
    assert "Traceback" not in r.stderr and "stopped" not in r.stderr


def test_config_error_exits_3_naming_file_camera_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "cameras.toml"
    cfg.write_text(
        '[[camera]]\nname = "gate-1"\nurl = "rtsp://admin:Pw12345@127.0.0.1:9/x"\n'
        'connect_timeout = "soon"\n'
    )
    cfg.chmod(0o600)
    r = _run(["--config", str(cfg), "--no-socket", "--metrics", "off"], tmp_path)
    assert r.returncode == 3
    assert str(cfg) in r.stderr and "gate-1" in r.stderr and "connect_timeout" in r.stderr
    assert "Pw12345" not in r.stderr + r.stdout


# -- small parts, real sockets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "public", "ok"),
    [
        ("127.0.0.1:9108", False, True),
        ("[::1]:9108", False, True),
        ("localhost:9108", False, True),
        (":9108", False, True),  # no host: loopback
        ("0.0.0.0:9108", False, False),
        ("192.0.2.7:9108", False, False),
        ("metrics.example:9108", False, False),
        ("0.0.0.0:9108", True, True),
    ],
)
def test_metrics_bind_policy(listen: str, public: bool, ok: bool) -> None:
    if ok:
        assert check_metrics_bind(listen, public)[1] == 9108
    else:
        with pytest.raises(DaemonError, match="--metrics-public"):
            check_metrics_bind(listen, public)


def test_metrics_bind_rejects_garbage() -> None:
    with pytest.raises(DaemonError) as err:
        check_metrics_bind("127.0.0.1:http", False)
    assert err.value.code == 3


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_datagrams(tmp_path: Path, abstract: bool) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        if abstract:
            name = f"camwatch-test-{os.getpid()}"
            server.bind("\0" + name)
            env = {"NOTIFY_SOCKET": "@" + name}
        else:
            server.bind(str(tmp_path / "n.sock"))
            env = {"NOTIFY_SOCKET": str(tmp_path / "n.sock")}
        server.settimeout(2)
        n = SystemdNotifier(env)
        n.ready("3 cameras: 3 live")
        assert server.recv(1024) == b"READY=1\nSTATUS=3 cameras: 3 live"
        n.stopping()
        assert server.recv(1024).startswith(b"STOPPING=1")
    assert not SystemdNotifier({}).notify("READY=1")  # not under systemd: nothing sent


def test_watchdog_interval_only_for_this_process() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_s == 30.0
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier(other).watchdog_s is None
    assert SystemdNotifier({"WATCHDOG_USEC": "junk"}).watchdog_s is None


def test_log_lines_quote_and_redact() -> None:
    assert (
        logfmt(a="x", b="two words", c='say "hi"', d=None) == 'a=x b="two words" c="say \\"hi\\""'
    )
    change = StatusChanged("gate", Status.LIVE, Status.OFFLINE, "rtsp://u:pw@10.0.0.1/ refused", 0)
    prio, line = event_fields(change, {"gate": "north"}.get) or (0, "")
    assert prio == 4 and line.startswith("status camera=gate site=north old=live new=offline")
    journal = LineWriter(env={"INVOCATION_ID": "x", "JOURNAL_STREAM": "8:1"}).line(line, prio)
    assert journal.startswith("<4>status ") and ":pw@" not in journal and "u:***@" in journal
    plain = LineWriter(env={}).line(line, prio)
    assert re.match(r"^\d{4}-\d\d-\d\dT\S+ status camera=gate", plain)
    # Under systemd but logging to a file: no timestamps, no priority prefixes.
    assert LineWriter(env={"INVOCATION_ID": "x"}).line(line, prio).startswith("status ")
