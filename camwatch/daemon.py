"""The long-running service behind `camwatch daemon` (systemd, Type=notify).

    code = await Daemon(inventory, DaemonOptions(db=..., metrics="127.0.0.1:9108")).run()

One Core (cameras, image analysis, rules, history, notifications) plus:
- the Prometheus endpoint (camwatch.alerts.metrics), loopback unless
  `metrics_public` (a non-loopback address is refused otherwise);
- the Unix socket TUIs attach to (camwatch.remote), unless disabled;
- one structured log line (logfmt) per status change, alert event and
  silence on stderr; without timestamps and with sd-daemon priority
  prefixes (`<4>`) when systemd runs us, which adds both itself;
- SIGHUP: reload the inventory; cameras whose entry did not change keep
  their sessions; an invalid file is reported (every problem) and the
  running configuration kept;
- SIGTERM/SIGINT: stop cleanly (viewers told, TEARDOWN sent, history
  flushed and closed), exit 0;
- sd_notify READY=1 / RELOADING=1 / STOPPING=1 / STATUS= / WATCHDOG=1 when
  NOTIFY_SOCKET is set (a Unix datagram, no dependency).

History retention is enforced by the Monitor (hourly); the daemon also runs
it once at start, so a daemon restarted more often than hourly still prunes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .alerts.model import AlertEvent, Silence
from .config import ConfigError, Inventory, load_inventory
from .fleethealth import ON_SCHEDULE, FleetHealth
from .redact import redact_text
from .state import Severity, StatusChanged

log = logging.getLogger("camwatch.daemon")

DEFAULT_METRICS = "127.0.0.1:9108"
STATUS_INTERVAL = 10.0  # seconds between STATUS= updates to systemd
EVENT_QUEUE = 16384  # the log's bus mailbox: states of a large fleet pass through it too
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 3

# sd-daemon(3) priorities: journald reads a "<N>" prefix on each stderr line.
PRIO_ERR, PRIO_WARNING, PRIO_NOTICE, PRIO_INFO = 3, 4, 5, 6


class DaemonError(Exception):
    """The daemon cannot start; the message says what to fix."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    config: Path | None = None  # inventory file (None: XDG default); reloaded on SIGHUP
    db: Path | None = None  # None: [store] path, else the XDG default
    metrics: str | None = DEFAULT_METRICS  # HOST:PORT; None: no endpoint
    metrics_public: bool = False
    socket: Path | None = None  # None: paths.runtime_socket_path()
    serve_socket: bool = True
    socket_group: str | None = None
    workers: int | None = None
    shards: int | None = None  # camera processes; None: automatic (core.auto_shards)


# -- systemd ------------------------------------------------------------------------


class SystemdNotifier:
    """sd_notify(3) over the datagram socket systemd names in NOTIFY_SOCKET."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        # An abstract socket is written "@name" in the variable.
        self.address = "\0" + path[1:] if path.startswith("@") else path
        self.watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        if not self.address:
            return False
        data = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)
                sock.sendto(data, self.address)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address.lstrip("\0"), exc)
            return False
        return True

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    async def keep_alive(self, stop: asyncio.Event) -> None:
        """WATCHDOG=1 at half the interval systemd asked for: proves the loop runs."""
        if not self.watchdog_s:
            return
        while not stop.is_set():
            self.notify("WATCHDOG=1")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.watchdog_s / 2)


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None


# -- log lines --------------------------------------------------------------------


def logfmt(**fields: object) -> str:
    """key=value pairs; values with spaces, quotes or '=' quoted (logfmt)."""
    out = []
    for key, value in fields.items():
        if value is None or value == "":
            continue
        text = str(value).replace("\n", " ")
        if any(c in text for c in ' "=\\') or not text:
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(f"{key}={text}")
    return " ".join(out)


def event_fields(message: object, site_of: Callable[[str], str]) -> tuple[int, str] | None:
    """(priority, line) for a status change, an alert event or a silence."""
    if isinstance(message, StatusChanged):
        prio = PRIO_WARNING if message.new.is_failure else PRIO_NOTICE
        line = "status " + logfmt(
            camera=message.camera,
            site=site_of(message.camera),
            old=message.old.value,
            new=message.new.value,
            reason=message.reason,
        )
        return prio, line
    if isinstance(message, AlertEvent):
        a = message.alert
        prio = PRIO_INFO
        if message.kind in ("raised", "flapping"):
            prio = PRIO_ERR if a.severity is Severity.CRITICAL else PRIO_WARNING
        elif message.kind == "resolved":
            prio = PRIO_NOTICE
        line = f"alert {message.kind} " + logfmt(
            camera=a.camera,
            site=a.site,
            rule=a.rule,
            severity=a.severity.value,
            state=a.state.value,
            id=a.id,
            reason=a.reason,
            silenced="yes" if a.silenced else None,
            by=a.acked_by if message.kind == "acknowledged" else None,
        )
        return prio, line
    if isinstance(message, Silence):
        line = "silence " + logfmt(
            id=message.id,
            target=f"{message.target_kind}:{message.target}",
            start=_iso(message.start),
            end=_iso(message.end),
            by=message.author,
            reason=message.reason,
            maintenance="yes" if message.maintenance else None,
        )
        return PRIO_NOTICE, line
    return None


def fleet_fields(health: FleetHealth, was_overloaded: bool) -> tuple[int, str] | None:
    """(priority, line) when the fleet becomes overloaded or recovers; None for the
    FleetHealth that comes every few seconds without news."""
    if health.overloaded == was_overloaded:
        return None
    if health.overloaded:
        return PRIO_WARNING, "fleet overloaded " + logfmt(
            live=health.live, cameras=health.cameras, reason=health.reason
        )
    return PRIO_NOTICE, "fleet recovered " + logfmt(reason=ON_SCHEDULE)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


class LineWriter:
    """stderr lines: timestamped for a terminal or file; `<prio>` prefixed and
    untimestamped under systemd (it stamps and classifies them itself)."""

    def __init__(self, out: TextIO | None = None, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.out = out
        self.systemd = bool(env.get("INVOCATION_ID"))  # journald stamps lines itself
        self.journal = bool(env.get("JOURNAL_STREAM"))  # stderr goes to the journal

    def line(self, text: str, prio: int = PRIO_INFO, at: float | None = None) -> str:
        text = redact_text(text)
        if self.journal:
            text = f"<{prio}>{text}"
        if not self.systemd:
            text = f"{_iso(time.time() if at is None else at)} {text}"
        return text

    def write(self, text: str, prio: int = PRIO_INFO, at: float | None = None) -> None:
        out = self.out or sys.stderr
        with contextlib.suppress(OSError, ValueError):  # a closed stderr must not stop us
            print(self.line(text, prio, at), file=out, flush=True)


class _JournalFormatter(logging.Formatter):
    """Python logging in the same shape as the event lines (and redacted)."""

    _PRIO = {
        logging.CRITICAL: 2,
        logging.ERROR: PRIO_ERR,
        logging.WARNING: PRIO_WARNING,
        logging.INFO: PRIO_INFO,
    }

    def __init__(self, writer: LineWriter) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.writer = writer

    def format(self, record: logging.LogRecord) -> str:
        prio = self._PRIO.get(record.levelno, 7)
        return self.writer.line(super().format(record), prio, record.created)


def setup_logging(writer: LineWriter) -> None:
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_JournalFormatter(writer))


# -- configuration ----------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def metrics_listen(option: str | None, inventory: Inventory) -> str | None:
    """--metrics, else [metrics] listen, else the default; "off" disables."""
    listen = option or inventory.sections.get("metrics", {}).get("listen") or DEFAULT_METRICS
    return None if listen.strip().lower() in ("off", "none", "no", "") else listen


def check_metrics_bind(listen: str, public: bool) -> tuple[str, int]:
    from .alerts.metrics import ListenError, parse_listen

    try:
        host, port = parse_listen(listen)
    except ListenError as exc:
        raise DaemonError(str(exc), EXIT_USAGE) from None
    if not public and not is_loopback(host):
        raise DaemonError(
            f"metrics on {host}:{port} would be reachable from other machines; "
            "bind a loopback address (127.0.0.1:9108) or pass --metrics-public",
            EXIT_USAGE,
        )
    return host, port


def _changed_sections(old: Inventory, new: Inventory) -> list[str]:
    """Sections a reload does not apply (they are read once, at start)."""
    return [
        name
        for name in ("store", "notify", "metrics")
        if old.sections.get(name, {}) != new.sections.get(name, {})
    ]


# -- the daemon ---------------------------------------------------------------------


class Daemon:
    def __init__(
        self,
        inventory: Inventory,
        options: DaemonOptions = DaemonOptions(),
        *,
        writer: LineWriter | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self.inventory = inventory
        self.options = options
        self.writer = writer or LineWriter()
        self.systemd = notifier or SystemdNotifier()
        self.core: Any = None
        self.metrics: Any = None
        self.remote: Any = None
        self._stop = asyncio.Event()
        self._hup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listen: str | None = None
        self._started = False

    # -- lifecycle ------------------------------------------------------------------

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT (reloading on SIGHUP), stop. Exit code."""
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        try:
            try:
                await self._start()
            except DaemonError as exc:
                self.writer.write(f"camwatch daemon: {exc}", PRIO_ERR)
                return exc.code
            await self._serve()
            return EXIT_OK
        finally:
            self.systemd.stopping()
            await self._shutdown()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._hup.set()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    async def _start(self) -> None:
        from .core import Core, CoreOptions

        self._listen = metrics_listen(self.options.metrics, self.inventory)
        if self._listen is not None:
            check_metrics_bind(self._listen, self.options.metrics_public)
        self.core = Core(
            self.inventory,
            CoreOptions(
                store=True,
                db_path=self.options.db,
                notify=True,
                analysis=True,
                workers=self.options.workers,
                shards=self.options.shards,
            ),
        )
        # Sockets first: a busy port or a second daemon fails before 200 cameras connect.
        self._start_metrics()
        await self._start_remote()
        self._tasks.append(asyncio.create_task(self._event_log(), name="daemon-log"))
        try:
            await self.core.start()
        except Exception as exc:
            raise DaemonError(f"cannot start: {exc}") from None
        self._tasks += [
            asyncio.create_task(self._status_loop(), name="daemon-status"),
            asyncio.create_task(self.systemd.keep_alive(self._stop), name="daemon-watchdog"),
            asyncio.create_task(self._initial_retention(), name="daemon-retention"),
        ]
        self._started = True
        self.writer.write(self._started_line(), PRIO_NOTICE)
        self.systemd.ready(self._count())

    def _start_metrics(self) -> None:
        if self._listen is None:
            return
        from .alerts.metrics import CamwatchCollector, ListenError, MetricsServer

        core = self.core
        collector = CamwatchCollector(
            core.bus.states, lambda: core.engine.alerts(), fleet=core.fleet_health
        )
        server = MetricsServer(collector, self._listen)
        try:
            server.start()
        except ListenError as exc:
            raise DaemonError(str(exc)) from None
        self.metrics = server

    async def _start_remote(self) -> None:
        if not self.options.serve_socket:
            return
        from .remote import RemoteError, serve

        # Global privacy "off": no image ever crosses the socket (per-camera
        # "off" and "pixelate" are applied by the core's Control itself).
        privacy = self.inventory.sections.get("privacy", {}).get("thumbnails", "on")
        server = serve(
            self.core.bus,
            self.core.control,
            self.options.socket,
            group=self.options.socket_group,
            thumbnails=privacy != "off",
        )
        try:
            await server.start()
        except (RemoteError, OSError) as exc:
            raise DaemonError(f"socket {server.path}: {exc}") from None
        self.remote = server

    def _started_line(self) -> str:
        store = self.core.store
        return "started " + logfmt(
            cameras=len(self.core.fleet.monitors),
            config=self.inventory.path,
            db=store.path if store is not None else None,
            metrics=self.metrics.url if self.metrics is not None else "off",
            socket=self.remote.path if self.remote is not None else "off",
            notify=", ".join(c.name for c in self.core.notifier.channels)
            if self.core.notifier is not None
            else "off",
        )

    async def _serve(self) -> None:
        while not self._stop.is_set():
            waiters = [
                asyncio.create_task(self._stop.wait()),
                asyncio.create_task(self._hup.wait()),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
            if self._hup.is_set() and not self._stop.is_set():
                self._hup.clear()  # SIGHUPs during a reload coalesce into one more
                await self.reload()

    async def _shutdown(self) -> None:
        self._stop.set()
        if self.remote is not None:
            with contextlib.suppress(Exception):
                await self.remote.stop()
            self.remote = None
        if self.core is not None and self.core.monitor is not None:
            try:
                await self.core.stop()
            except Exception as exc:
                log.error("stopping the core: %r", exc)
        elif self.core is not None:
            self.core.bus.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.stop)
            self.metrics = None
        if self._started:
            self.writer.write("stopped", PRIO_NOTICE)

    # -- reload -----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Re-read the inventory and apply it; a broken file changes nothing."""
        path = self.options.config or self.inventory.path
        self.systemd.reloading()
        try:
            try:
                new = await asyncio.to_thread(load_inventory, path)
            except ConfigError as exc:
                self.writer.write(
                    f"reload failed: {len(exc.problems)} problem(s) in {path}; "
                    "keeping the running configuration",
                    PRIO_ERR,
                )
                for problem in exc.problems:
                    self.writer.write(f"reload problem: {problem}", PRIO_ERR)
                return False
            try:
                changes = await self.core.reload(new)
            except Exception as exc:
                self.writer.write(f"reload failed: {exc}", PRIO_ERR)
                return False
            stale = _changed_sections(self.inventory, new)
            self.inventory = new
            self.writer.write(
                "reloaded "
                + logfmt(
                    config=path,
                    **{k: ",".join(v) or "-" for k, v in changes.items()},
                    cameras=len(self.core.fleet.monitors),
                ),
                PRIO_NOTICE,
            )
            if stale:
                self.writer.write(
                    f"reload: changes to [{'], ['.join(stale)}] apply after a restart",
                    PRIO_WARNING,
                )
            return True
        finally:
            self.systemd.ready(self._count())

    # -- background tasks ---------------------------------------------------------------

    async def _event_log(self) -> None:
        bus = self.core.bus
        sub = bus.subscribe(EVENT_QUEUE)
        dropped = 0
        overloaded = False
        try:
            async for message in sub:
                if sub.dropped != dropped:
                    self.writer.write(f"log fell behind: {sub.dropped - dropped} events lost")
                    dropped = sub.dropped
                if isinstance(message, FleetHealth):
                    line = fleet_fields(message, overloaded)
                    overloaded = message.overloaded
                else:
                    line = event_fields(message, self._site_of)
                if line is not None:
                    self.writer.write(line[1], line[0], getattr(message, "at", None))
        finally:
            unsubscribe = getattr(bus, "unsubscribe", None)
            if unsubscribe is not None:
                unsubscribe(sub)

    def _site_of(self, camera: str) -> str:
        cfg = self.core.fleet.configs.get(camera)
        return cfg.site if cfg is not None else ""

    def _count(self) -> str:
        from .headless import count_line

        return count_line(self.core.bus.states().values()) if self.core else "starting"

    async def _status_loop(self) -> None:
        if not self.systemd.enabled:
            return
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            self.systemd.status(self._count())

    async def _initial_retention(self) -> None:
        store = self.core.store
        if store is None:
            return
        try:
            deleted = await store.enforce_retention()
        except Exception as exc:
            log.error("history retention failed: %s", exc)
            return
        if any(deleted.values()):
            self.writer.write("retention " + logfmt(**deleted), PRIO_INFO)


async def run_daemon(inventory: Inventory, options: DaemonOptions) -> int:
    writer = LineWriter()
    setup_logging(writer)
    return await Daemon(inventory, options, writer=writer).run()
