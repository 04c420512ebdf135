"""Notifications against real receivers: HTTP on 127.0.0.1, real subprocesses, real Apprise."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from camwatch.alerts.model import Alert, AlertEvent, AlertState
from camwatch.alerts.notify import Notifier, NotifyConfigError, parse_notify_config
from camwatch.state import Severity


class Receiver:
    """A real HTTP server on loopback that records POSTed JSON (optionally failing first)."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.fail_first = fail_first
        self.delay = delay
        self.requests: list[dict[str, Any]] = []  # every attempt, failed ones included
        self.bodies: list[Any] = []  # accepted JSON bodies
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                with outer.lock:
                    attempt = len(outer.requests)
                    outer.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "at": time.monotonic()}
                    )
                if outer.delay:
                    time.sleep(outer.delay)
                if attempt < outer.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                with outer.lock:
                    outer.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    async def wait_bodies(self, n: int, seconds: float = 10.0) -> list[Any]:
        await until(lambda: len(self.bodies) >= n, seconds)
        return list(self.bodies)


async def until(predicate: Callable[[], object], seconds: float = 10.0) -> bool:
    """Poll a condition a real component will make true (or give up after `seconds`)."""
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def event(
    kind: str = "raised",
    camera: str = "cam1",
    rule: str = "offline",
    silenced: bool = False,
    severity: Severity = Severity.CRITICAL,
    at: float = 1000.0,
) -> AlertEvent:
    state = AlertState.RESOLVED if kind == "resolved" else AlertState.FIRING
    alert = Alert(
        id=f"{camera}:{rule}:{int(at)}",
        camera=camera,
        rule=rule,
        severity=severity,
        state=state,
        reason="connection refused",
        started=at - 10,
        raised=at,
        updated=at,
        site="depot",
        resolved_at=at if kind == "resolved" else None,
        silenced=silenced,
    )
    return AlertEvent(kind, alert, at)


FAST = {"backoff": 0.05, "backoff_max": 0.2, "digest_window": 0}


async def test_webhook_posts_the_alert_as_json() -> None:
    with Receiver() as rx:
        n = Notifier({"webhooks": [{"url": rx.url, "headers": {"X-Token": "t0k"}}], **FAST})
        await n.start()
        assert n.submit(event())
        (body,) = await rx.wait_bodies(1)
        await n.stop()
    assert body["event"] == "raised"
    assert body["alert"]["camera"] == "cam1" and body["alert"]["rule"] == "offline"
    assert body["alert"]["severity"] == "critical" and body["alert"]["site"] == "depot"
    assert "CRITICAL" in body["title"] and "connection refused" in body["text"]
    headers = rx.requests[0]["headers"]
    assert headers["Content-Type"] == "application/json" and headers["X-Token"] == "t0k"
    assert n.stats.sent == 1 and n.stats.failed == 0


async def test_failing_webhook_is_retried_with_growing_backoff() -> None:
    with Receiver(fail_first=3) as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "retries": 4})
        await n.start()
        n.submit(event())
        (body,) = await rx.wait_bodies(1)
        await n.stop()
    assert body["alert"]["camera"] == "cam1"
    assert len(rx.requests) == 4
    assert n.stats.retries == 3 and n.stats.sent == 1 and n.stats.failed == 0
    gaps = [b["at"] - a["at"] for a, b in zip(rx.requests, rx.requests[1:], strict=False)]
    # backoff 0.05 * 2^k with jitter in [0.5, 1]: 0.025-0.05, 0.05-0.1, 0.1-0.2
    assert gaps[0] >= 0.025 and gaps[2] >= 0.1


async def test_webhook_gives_up_after_the_last_retry() -> None:
    with Receiver(fail_first=100) as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "retries": 2})
        await n.start()
        n.submit(event())
        assert await until(lambda: n.stats.failed)
        await n.stop()
    assert len(rx.requests) == 3 and n.stats.failed == 1 and n.stats.sent == 0
    assert "HTTP 500" in (n.stats.last_error or "")


async def test_a_dead_webhook_never_delays_other_channels(tmp_path: Path) -> None:
    out = tmp_path / "hook.txt"
    script = f"open({str(out)!r}, 'a').write('x')"
    with Receiver(delay=3.0) as slow:
        config = {
            "webhooks": [{"url": slow.url, "timeout": 0.5}],
            "command": [sys.executable, "-c", script],
            **FAST,
        }
        n = Notifier(config)
        await n.start()
        t0 = time.monotonic()
        for i in range(3):
            assert n.submit(event(camera=f"cam{i}"))
        assert time.monotonic() - t0 < 0.1  # submit only files the event
        assert await until(lambda: n.stats.sent == 3)
        assert out.read_text() == "xxx"  # the command ran while the webhook was hanging
        assert n.stats.sent == 3 and len(slow.bodies) == 0
        await n.stop(grace=0)


async def test_command_hook_gets_alert_data_in_environment_without_a_shell(
    tmp_path: Path,
) -> None:
    out = tmp_path / "env.json"
    script = (
        "import json, os, sys; "
        f"json.dump({{'argv': sys.argv[1:], 'env': {{k: v for k, v in os.environ.items()"
        f" if k.startswith('CAMWATCH_')}}}}, open({str(out)!r}, 'w'))"
    )
    trap = tmp_path / "pwned"
    argv = [sys.executable, "-c", script, f"$(touch {trap})", "a b;c"]
    n = Notifier({"command": argv, **FAST})
    await n.start()
    n.submit(event(kind="resolved", camera="gate-1", rule="packet_loss"))
    assert await until(lambda: n.stats.sent or n.stats.failed)
    await n.stop()
    data = json.loads(out.read_text())
    assert data["argv"] == [f"$(touch {trap})", "a b;c"]  # passed literally
    assert not trap.exists()
    env = data["env"]
    assert env["CAMWATCH_CAMERA"] == "gate-1"
    assert env["CAMWATCH_RULE"] == "packet_loss"
    assert env["CAMWATCH_SEVERITY"] == "critical"
    assert env["CAMWATCH_STATE"] == "resolved"
    assert env["CAMWATCH_EVENT"] == "resolved"
    assert env["CAMWATCH_REASON"] == "connection refused"
    assert env["CAMWATCH_SITE"] == "depot"
    assert json.loads(env["CAMWATCH_JSON"])["alert"]["camera"] == "gate-1"


async def test_command_hook_timeout_kills_it_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); "
        "import time; time.sleep(60)"
    )
    argv = [sys.executable, "-c", script]
    n = Notifier({"command": argv, "command_timeout": 1.0, **FAST, "retries": 0})
    await n.start()
    n.submit(event())
    assert await until(lambda: n.stats.failed)
    await n.stop()
    assert n.stats.failed == 1 and "timed out" in (n.stats.last_error or "")
    child = int(pidfile.read_text())
    assert await until(lambda: not _alive(child), 2.0)


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def test_missing_command_fails_once_without_retrying(tmp_path: Path) -> None:
    n = Notifier({"command": [str(tmp_path / "no-such-program")], **FAST})
    await n.start()
    n.submit(event())
    assert await until(lambda: n.stats.failed)
    await n.stop()
    assert n.stats.failed == 1 and n.stats.retries == 0
    assert "no-such-program" in (n.stats.last_error or "")


async def test_apprise_json_target_reaches_a_real_receiver() -> None:
    pytest.importorskip("apprise")
    with Receiver() as rx:
        n = Notifier({"apprise": [f"json://127.0.0.1:{rx.port}/apprise"], **FAST})
        await n.start()
        n.submit(event(camera="lobby"))
        (body,) = await rx.wait_bodies(1)
        await n.stop()
    assert rx.requests[0]["path"] == "/apprise"
    assert "lobby" in body["title"] and "connection refused" in body["message"]


def test_apprise_configured_but_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # makes `import apprise` fail
    with pytest.raises(NotifyConfigError, match=r"pip install 'camwatch\[notify\]'"):
        Notifier({"apprise": ["ntfy://example/topic"]})


async def test_per_alert_rate_limit_keeps_raises_and_resolves_paired() -> None:
    with Receiver() as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "min_interval": 60})
        await n.start()
        # cam1 offline raises and resolves twice within a minute, cam2 once.
        n.submit(event("raised", at=1000))
        n.submit(event("resolved", at=1000))
        n.submit(event("raised", at=1020))  # a new alert id, same camera and rule
        n.submit(event("resolved", at=1020))
        n.submit(event("raised", camera="cam2", at=1020))
        await rx.wait_bodies(3)
        await asyncio.sleep(0.1)
        await n.stop()
    sent = [(b["event"], b["alert"]["id"]) for b in rx.bodies]
    assert sent == [
        ("raised", "cam1:offline:1000"),
        ("resolved", "cam1:offline:1000"),
        ("raised", "cam2:offline:1020"),
    ]
    assert n.stats.rate_limited == 2  # the second raise and its resolve


async def test_global_rate_limit() -> None:
    with Receiver() as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "max_per_hour": 3})
        await n.start()
        for i in range(5):
            n.submit(event(camera=f"cam{i}"))
        await rx.wait_bodies(3)
        await asyncio.sleep(0.1)
        await n.stop()
    assert len(rx.bodies) == 3 and n.stats.rate_limited == 2


async def test_many_failures_at_once_become_one_digest() -> None:
    with Receiver() as rx:
        config = {
            "webhooks": [rx.url],
            "backoff": 0.05,
            "digest_window": 0.3,
            "digest_after": 5,
        }
        n = Notifier(config)
        await n.start()
        for i in range(30):  # a switch died
            n.submit(event(camera=f"cam{i:02d}"))
        (digest,) = await rx.wait_bodies(1)
        await asyncio.sleep(0.4)
        assert len(rx.bodies) == 1
        # A few failures stay individual messages.
        for i in range(3):
            n.submit(event(camera=f"solo{i}", rule="frozen", severity=Severity.WARNING))
        await rx.wait_bodies(4)
        await n.stop()
    assert digest["event"] == "digest" and digest["count"] == 30
    assert digest["cameras"] == [f"cam{i:02d}" for i in range(30)]
    assert "cam00" in digest["text"] and "cam29" in digest["text"]
    assert sorted(b["alert"]["camera"] for b in rx.bodies[1:]) == ["solo0", "solo1", "solo2"]
    assert n.stats.digests == 1


async def test_silenced_and_filtered_events_do_not_notify() -> None:
    with Receiver() as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "min_severity": "critical"})
        await n.start()
        assert not n.submit(event(silenced=True))
        assert not n.submit(event(severity=Severity.WARNING))
        assert not n.submit(event(kind="acknowledged"))  # not in `on` by default
        assert n.submit(event(camera="loud"))
        await rx.wait_bodies(1)
        await asyncio.sleep(0.1)
        await n.stop()
    assert [b["alert"]["camera"] for b in rx.bodies] == ["loud"]
    assert n.stats.suppressed == 3


async def test_queue_is_bounded_and_drops_oldest() -> None:
    with Receiver(delay=0.2) as rx:
        n = Notifier({"webhooks": [rx.url], **FAST, "queue_size": 2})
        await n.start()
        n.submit(event(camera="cam0"))
        assert await until(lambda: bool(rx.requests))  # cam0 is in flight
        for i in range(1, 6):
            n.submit(event(camera=f"cam{i}"))
        await rx.wait_bodies(3)
        await n.stop()
    # cam0 was in flight; of the 5 queued behind it only the newest 2 were kept.
    assert [b["alert"]["camera"] for b in rx.bodies] == ["cam0", "cam4", "cam5"]
    assert n.stats.dropped == 3


def test_config_errors_are_listed_together() -> None:
    with pytest.raises(NotifyConfigError) as err:
        parse_notify_config(
            {
                "webhooks": [{"url": "file:///etc/passwd"}, {"url": "http://x", "tls": 1}],
                "command": "rm -rf /",
                "on": ["raised", "exploded"],
                "max_per_hour": 0,
                "digest_window": -1,
                "colour": "red",
            }
        )
    assert len(err.value.problems) == 7
    text = str(err.value)
    for needle in ("file:///etc/passwd", "tls", "argv", "exploded", "per_hour", "window", "colour"):
        assert needle in text
