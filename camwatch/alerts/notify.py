"""Notifications: webhooks, a command hook and Apprise, never blocking monitoring.

`Notifier.submit(event)` is synchronous and O(1): it files the event and
returns. A dispatcher task groups events into digests and applies rate
limits; each channel (every webhook, the command, Apprise) has its own worker
task and bounded queue (drop-oldest, counted), so a dead webhook cannot delay
the command hook, and nothing can delay the monitor. Failed sends are retried
with exponential backoff and jitter.

Configuration (the inventory's `notify` section; every key optional):

    webhooks = [{ url = "https://hooks.example/x", timeout = 5, headers = { X-Token = "..." } }]
    command = ["/usr/local/bin/page-oncall", "--team", "cctv"]    # run without a shell
    command_timeout = 10
    apprise = ["ntfy://ntfy.sh/cctv", "mailto://..."]             # needs `pip install apprise`
    on = ["raised", "resolved", "flapping"]                       # event kinds that notify
    min_severity = "warning"                                      # or "critical"
    retries = 4                  # after the first attempt
    backoff = 1.0                # seconds, doubled per retry, capped by backoff_max
    backoff_max = 60.0
    queue_size = 256             # per channel
    min_interval = 300           # seconds between two raises notified for one camera+rule
    max_per_hour = 60            # global cap on messages
    digest_after = 5             # this many events of one kind within digest_window ...
    digest_window = 10           # ... make one digest; events are held this long (0: never)

Rate limits: a raise (or a flapping alert) about a camera and rule notified
less than `min_interval` seconds ago is not sent, and neither are the later
events (acknowledged, resolved) of that alert: nobody hears of a resolve
whose raise they never got, and everyone who heard a raise hears its resolve.
`max_per_hour` caps everything; what it drops is counted and logged.

Digest: events are held for `digest_window` seconds from the first one; if
`digest_after` or more of the same kind (raised, resolved...) came in, one
message names all their cameras ("a switch died"), else each goes out on
its own. The price is that a notification leaves up to `digest_window`
seconds after the event.

Command hook environment: CAMWATCH_EVENT (raised/resolved/flapping/
acknowledged/digest), CAMWATCH_ALERT_ID, CAMWATCH_CAMERA, CAMWATCH_SITE,
CAMWATCH_RULE, CAMWATCH_SEVERITY, CAMWATCH_STATE, CAMWATCH_REASON,
CAMWATCH_VALUE, CAMWATCH_THRESHOLD, CAMWATCH_STARTED, CAMWATCH_AT (epoch s),
CAMWATCH_TITLE, CAMWATCH_TEXT, CAMWATCH_JSON (the webhook body); for a digest
CAMWATCH_COUNT and CAMWATCH_CAMERAS (comma-separated) too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import time
import urllib.error
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..redact import redact_text, redact_url
from ..state import Severity
from .model import AlertEvent

log = logging.getLogger("camwatch.notify")

KINDS = ("raised", "resolved", "flapping", "acknowledged", "silenced", "unsilenced")
_USER_AGENT = "camwatch-notify/1"
_STDERR_KEEP = 4096
_MAX_TRACKED = 10_000  # alerts and camera+rule keys remembered by the rate limiter


class NotifyConfigError(ValueError):
    """The notify configuration is invalid; `problems` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid notify configuration:\n  " + "\n  ".join(problems))


class PermanentError(RuntimeError):
    """A send that retrying cannot fix (missing program, bad URL)."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    timeout: float = 5.0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhooks: tuple[WebhookTarget, ...] = ()
    command: tuple[str, ...] = ()
    command_timeout: float = 10.0
    apprise: tuple[str, ...] = ()
    on: frozenset[str] = frozenset({"raised", "resolved", "flapping"})
    min_severity: Severity = Severity.WARNING
    min_interval: float = 300.0
    max_per_hour: int = 60
    digest_after: int = 5
    digest_window: float = 10.0
    retries: int = 4
    backoff: float = 1.0
    backoff_max: float = 60.0
    queue_size: int = 256


# -- configuration ---------------------------------------------------------------


def _number(
    value: object, where: str, problems: list[str], *, minimum: float = 0.0, integer: bool = False
) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
    if ok and integer and not float(value).is_integer():  # type: ignore[arg-type]
        ok = False
    if not ok:
        kind = "an integer" if integer else "a number"
        problems.append(f"{where}: expected {kind} >= {minimum:g}, got {value!r}")
        return None
    return float(value)  # type: ignore[arg-type]


def _parse_webhook(raw: object, where: str, problems: list[str]) -> WebhookTarget | None:
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table with `url` or a URL string")
        return None
    url = raw.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        problems.append(f"{where}.url: expected an http:// or https:// URL, got {url!r}")
        return None
    target = WebhookTarget(url)
    for key, value in raw.items():
        if key == "timeout":
            t = _number(value, f"{where}.timeout", problems, minimum=0.1)
            if t is not None:
                target = replace(target, timeout=t)
        elif key == "headers":
            if isinstance(value, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                target = replace(target, headers=tuple(value.items()))
            else:
                problems.append(f"{where}.headers: expected a table of strings")
        elif key != "url":
            problems.append(f"{where}.{key}: unknown key (url, timeout, headers)")
    return target


_NUMBERS = {
    "command_timeout": ("command_timeout", 0.1, False),
    "min_interval": ("min_interval", 0, False),
    "max_per_hour": ("max_per_hour", 1, True),
    "digest_after": ("digest_after", 2, True),
    "digest_window": ("digest_window", 0, False),
    "retries": ("retries", 0, True),
    "backoff": ("backoff", 0, False),
    "backoff_max": ("backoff_max", 0, False),
    "queue_size": ("queue_size", 1, True),
}


def _parse_table(
    raw: object,
    keys: Mapping[str, tuple[str, float, bool]],
    where: str,
    problems: list[str],
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table")
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys:
            problems.append(f"{where}.{key}: unknown key ({', '.join(keys)})")
            continue
        attr, minimum, integer = keys[key]
        n = _number(value, f"{where}.{key}", problems, minimum=minimum, integer=integer)
        if n is not None:
            out[attr] = int(n) if integer else n
    return out


def parse_notify_config(raw: Mapping[str, Any] | NotifyConfig | None) -> NotifyConfig:
    """Validate a `notify` section; raises NotifyConfigError listing every problem."""
    if isinstance(raw, NotifyConfig):
        return raw
    problems: list[str] = []
    fields: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        where = f"notify.{key}"
        if key == "webhooks":
            items = value if isinstance(value, list | tuple) else [value]
            hooks = [_parse_webhook(v, f"{where}[{i}]", problems) for i, v in enumerate(items)]
            fields["webhooks"] = tuple(h for h in hooks if h)
        elif key == "command":
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(a, str) and a for a in value)
            ):
                fields["command"] = tuple(value)
            else:
                problems.append(f"{where}: expected a non-empty list of strings (argv, no shell)")
        elif key == "apprise":
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list | tuple) and all(isinstance(u, str) for u in items):
                fields["apprise"] = tuple(items)
            else:
                problems.append(f"{where}: expected a list of Apprise URLs")
        elif key == "on":
            kinds = [value] if isinstance(value, str) else value
            bad = [k for k in kinds if k not in KINDS] if isinstance(kinds, list | tuple) else [0]
            if bad:
                problems.append(f"{where}: expected a list of {', '.join(KINDS)}, got {value!r}")
            else:
                fields["on"] = frozenset(kinds)
        elif key == "min_severity":
            if value in ("warning", "critical"):
                fields["min_severity"] = Severity(value)
            else:
                problems.append(f"{where}: expected 'warning' or 'critical', got {value!r}")
        elif key in _NUMBERS:
            fields.update(_parse_table({key: value}, _NUMBERS, "notify", problems))
        else:
            problems.append(f"{where}: unknown key")
    if problems:
        raise NotifyConfigError(problems)
    return NotifyConfig(**fields)


# -- messages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, rendered for every channel."""

    kind: str  # raised | resolved | flapping | acknowledged | ... | digest
    title: str
    text: str
    payload: Mapping[str, Any]  # the webhook's JSON body
    env: Mapping[str, str]  # the command hook's CAMWATCH_* variables
    severity: Severity = Severity.WARNING


def _fmt_time(t: float | None) -> str:
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _tag(event: AlertEvent) -> str:
    if event.kind == "raised":
        return event.alert.severity.value.upper()
    return event.kind.upper()


def event_message(event: AlertEvent) -> Message:
    a = event.alert
    rule = a.rule.replace("_", " ")
    title = f"[{_tag(event)}] {a.camera}: {rule}"
    where = f" at {a.site}" if a.site else ""
    lines = [f"{a.camera}{where}: {a.reason}"]
    if event.kind == "resolved":
        lines.append(f"down from {_fmt_time(a.started)} to {_fmt_time(a.resolved_at)}")
    elif event.kind == "flapping":
        lines.append("the condition keeps coming and going; one alert until it settles")
    else:
        lines.append(f"since {_fmt_time(a.started)}")
    if a.acked_by:
        note = f": {a.ack_comment}" if a.ack_comment else ""
        lines.append(f"acknowledged by {a.acked_by}{note}")
    payload = {
        "event": event.kind,
        "at": event.at,
        "title": title,
        "text": "\n".join(lines),
        "alert": {
            "id": a.id,
            "camera": a.camera,
            "site": a.site,
            "rule": a.rule,
            "severity": a.severity.value,
            "state": a.state.value,
            "reason": a.reason,
            "value": a.value,
            "threshold": a.threshold,
            "started": a.started,
            "raised": a.raised,
            "resolved_at": a.resolved_at,
            "acked_by": a.acked_by,
            "acked_at": a.acked_at,
            "ack_comment": a.ack_comment,
            "flapping": a.flapping,
        },
    }
    env = {
        "CAMWATCH_EVENT": event.kind,
        "CAMWATCH_ALERT_ID": a.id,
        "CAMWATCH_CAMERA": a.camera,
        "CAMWATCH_SITE": a.site,
        "CAMWATCH_RULE": a.rule,
        "CAMWATCH_SEVERITY": a.severity.value,
        "CAMWATCH_STATE": a.state.value,
        "CAMWATCH_REASON": a.reason,
        "CAMWATCH_VALUE": "" if a.value is None else f"{a.value:g}",
        "CAMWATCH_THRESHOLD": "" if a.threshold is None else f"{a.threshold:g}",
        "CAMWATCH_STARTED": f"{a.started:.3f}",
        "CAMWATCH_AT": f"{event.at:.3f}",
    }
    return _finish(event.kind, title, "\n".join(lines), payload, env, a.severity)


def digest_message(kind: str, events: Sequence[AlertEvent]) -> Message:
    cameras = sorted({e.alert.camera for e in events})
    severity = max((e.alert.severity for e in events), key=_severity_rank)
    rules = sorted({e.alert.rule.replace("_", " ") for e in events})
    title = f"[{kind.upper()}] {len(events)} alerts on {len(cameras)} cameras"
    text = f"{kind} ({', '.join(rules)}): {', '.join(cameras)}"
    payload = {
        "event": "digest",
        "kind": kind,
        "at": max(e.at for e in events),
        "title": title,
        "text": text,
        "count": len(events),
        "cameras": cameras,
        "alerts": [event_message(e).payload["alert"] for e in events],
    }
    env = {
        "CAMWATCH_EVENT": "digest",
        "CAMWATCH_STATE": kind,
        "CAMWATCH_SEVERITY": severity.value,
        "CAMWATCH_COUNT": str(len(events)),
        "CAMWATCH_CAMERAS": ",".join(cameras),
        "CAMWATCH_CAMERA": ",".join(cameras),
        "CAMWATCH_RULE": ",".join(sorted({e.alert.rule for e in events})),
        "CAMWATCH_REASON": text,
        "CAMWATCH_AT": f"{payload['at']:.3f}",
    }
    return _finish("digest", title, text, payload, env, severity)


def _finish(
    kind: str,
    title: str,
    text: str,
    payload: dict[str, Any],
    env: dict[str, str],
    severity: Severity,
) -> Message:
    body = json.dumps(payload, separators=(",", ":"))
    env.update({"CAMWATCH_TITLE": title, "CAMWATCH_TEXT": text, "CAMWATCH_JSON": body})
    return Message(kind, title, text, payload, env, severity)


def _severity_rank(s: Severity) -> int:
    return {Severity.OK: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}[s]


# -- channels ----------------------------------------------------------------------


class Channel(Protocol):
    name: str
    timeout: float

    async def send(self, message: Message) -> None: ...


class WebhookChannel:
    """JSON POST with urllib in a worker thread (the timeout bounds the thread)."""

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self.timeout = target.timeout
        self.name = f"webhook {_short_url(target.url)}"

    async def send(self, message: Message) -> None:
        body = json.dumps(message.payload).encode()
        await asyncio.to_thread(self._post, body)

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        headers.update(dict(self.target.headers))
        req = urllib.request.Request(self.target.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read(65536)
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RuntimeError(redact_text(str(reason))) from None
        if not 200 <= status < 300:
            raise RuntimeError(f"HTTP {status}")


def _short_url(url: str) -> str:
    """scheme://host/... : webhook paths often carry secret tokens, keep them out of logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


class CommandChannel:
    """Runs argv without a shell, alert data in CAMWATCH_* environment variables."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.argv = tuple(argv)
        self.timeout = timeout
        self.name = f"command {self.argv[0]}"

    async def send(self, message: Message) -> None:
        env = {**os.environ, **message.env}
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # so a timeout kills the hook's children too
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise PermanentError(f"cannot run {self.argv[0]}: {exc.strerror}") from None
        try:
            async with asyncio.timeout(self.timeout):
                tail = await _read_tail(proc.stderr)
                code = await proc.wait()
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            raise RuntimeError(f"timed out after {self.timeout:g} s") from None
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            await proc.wait()
            raise
        if code != 0:
            last = tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"exit status {code}: {redact_text(last[0])}".rstrip(": "))


async def _read_tail(stream: asyncio.StreamReader | None) -> bytes:
    """Read a stream to EOF keeping only its last few KiB (a chatty hook stays bounded)."""
    tail = b""
    while stream is not None:
        chunk = await stream.read(65536)
        if not chunk:
            break
        tail = (tail + chunk)[-_STDERR_KEEP:]
    return tail


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class AppriseChannel:
    """Apprise URLs (e-mail, Slack, Teams, Telegram, ntfy...); the package is optional."""

    def __init__(self, urls: Sequence[str], timeout: float = 30.0) -> None:
        try:
            import apprise
        except ImportError:
            raise NotifyConfigError(
                [
                    f"notify.apprise lists {len(urls)} URL(s) but the optional 'apprise'"
                    " package is not installed: pip install 'camwatch[notify]'"
                ]
            ) from None
        self._apprise = apprise
        self._obj = apprise.Apprise()
        bad = [redact_url(u) for u in urls if not self._obj.add(u)]
        if bad:
            raise NotifyConfigError([f"notify.apprise: Apprise rejects URL {u}" for u in bad])
        self.timeout = timeout
        self.name = f"apprise ({len(urls)} URL{'s' if len(urls) != 1 else ''})"

    async def send(self, message: Message) -> None:
        kind = {
            "resolved": self._apprise.NotifyType.SUCCESS,
            "acknowledged": self._apprise.NotifyType.INFO,
        }.get(message.kind)
        if kind is None:
            critical = message.severity is Severity.CRITICAL
            kind = (
                self._apprise.NotifyType.FAILURE if critical else self._apprise.NotifyType.WARNING
            )
        ok = await asyncio.to_thread(
            self._obj.notify, body=message.text, title=message.title, notify_type=kind
        )
        if not ok:
            raise RuntimeError("Apprise could not deliver to every URL (see its log)")


def build_channels(config: NotifyConfig) -> list[Channel]:
    channels: list[Channel] = [WebhookChannel(t) for t in config.webhooks]
    if config.command:
        channels.append(CommandChannel(config.command, config.command_timeout))
    if config.apprise:
        channels.append(AppriseChannel(config.apprise))
    return channels


# -- dispatch ------------------------------------------------------------------------


@dataclass
class NotifyStats:
    submitted: int = 0
    suppressed: int = 0  # silenced or filtered out
    rate_limited: int = 0
    digests: int = 0
    sent: int = 0  # deliveries (one message to one channel)
    retries: int = 0
    failed: int = 0  # deliveries given up after the last retry
    dropped: int = 0  # deliveries lost because a channel's queue was full
    last_error: str | None = None


@dataclass
class _Worker:
    channel: Channel
    maxsize: int
    queue: deque[Message] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    busy: bool = False
    task: asyncio.Task[None] | None = None


class Notifier:
    """Routes alert events to channels with digests, rate limits and retries."""

    def __init__(
        self,
        config: Mapping[str, Any] | NotifyConfig | None = None,
        *,
        channels: Sequence[Channel] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = parse_notify_config(config)
        chans = list(channels) if channels is not None else build_channels(self.config)
        self._workers = [_Worker(c, self.config.queue_size) for c in chans]
        self._clock = clock
        self.stats = NotifyStats()
        self._batches: dict[str, tuple[float, list[AlertEvent]]] = {}
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._last_raise: dict[tuple[str, str], float] = {}  # camera, rule -> notified at
        self._announced: OrderedDict[str, bool] = OrderedDict()  # alert id -> raise was sent
        self._global: deque[float] = deque()
        self._limit_logged = 0.0

    @property
    def channels(self) -> list[Channel]:
        return [w.channel for w in self._workers]

    async def start(self) -> None:
        if self._dispatcher is not None:
            return
        for w in self._workers:
            w.task = asyncio.create_task(self._work(w), name=f"notify:{w.channel.name}")
        self._dispatcher = asyncio.create_task(self._dispatch(), name="notify-dispatch")

    async def stop(self, grace: float = 5.0) -> None:
        """Send what is batched, give the queues `grace` seconds to drain, then cancel."""
        if self._dispatcher is None:
            return
        self._dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        self._dispatcher = None
        for kind in list(self._batches):
            self._release(kind)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                for w in self._workers:
                    await w.idle.wait()
        for w in self._workers:
            if w.task:
                w.task.cancel()
        for w in self._workers:
            if w.task:
                with contextlib.suppress(asyncio.CancelledError):
                    await w.task
                w.task = None
            lost = len(w.queue)
            if lost:
                self.stats.dropped += lost
                log.warning("%s: %d notifications not sent at shutdown", w.channel.name, lost)
                w.queue.clear()

    def submit(self, event: AlertEvent) -> bool:
        """File an event (never blocks). False when it will not notify."""
        self.stats.submitted += 1
        cfg = self.config
        if (
            event.kind not in cfg.on
            or event.alert.silenced
            or _severity_rank(event.alert.severity) < _severity_rank(cfg.min_severity)
            or not self._workers
        ):
            self.stats.suppressed += 1
            return False
        if cfg.digest_window <= 0:
            self._send_events(event.kind, [event])
            return True
        _, events = self._batches.setdefault(event.kind, (self._clock() + cfg.digest_window, []))
        events.append(event)
        self._wake.set()
        return True

    async def _dispatch(self) -> None:
        while True:
            if self._batches:
                wait = min(d for d, _ in self._batches.values()) - self._clock()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
            else:
                await self._wake.wait()
            self._wake.clear()
            now = self._clock()
            for kind, (deadline, _) in list(self._batches.items()):
                if deadline <= now:
                    self._release(kind)

    def _release(self, kind: str) -> None:
        _, events = self._batches.pop(kind)
        self._send_events(kind, events)

    def _send_events(self, kind: str, events: list[AlertEvent]) -> None:
        events = [e for e in events if self._allow_alert(e)]
        if len(events) >= self.config.digest_after and self.config.digest_window > 0:
            if self._allow_global():
                self.stats.digests += 1
                self._enqueue(digest_message(kind, events))
            return
        for event in events:
            if self._allow_global():
                self._enqueue(event_message(event))

    def _allow_alert(self, event: AlertEvent) -> bool:
        alert = event.alert
        known = self._announced.get(alert.id)
        if event.kind == "raised" or (event.kind == "flapping" and known is None):
            # Keyed by camera+rule, not alert id: a re-raised alert is the same nuisance.
            key, now = (alert.camera, alert.rule), self._clock()
            last = self._last_raise.get(key)
            ok = last is None or now - last >= self.config.min_interval
            if ok:
                self._last_raise[key] = now
            self._remember(alert.id, ok)
            if len(self._last_raise) > _MAX_TRACKED:
                horizon = now - self.config.min_interval
                self._last_raise = {k: t for k, t in self._last_raise.items() if t > horizon}
        else:
            ok = known is not False  # unknown ids (alerts restored after a restart) are told
        if not ok:
            self._limited(f"{alert.camera} {alert.rule}")
        return ok

    def _remember(self, alert_id: str, announced: bool) -> None:
        self._announced[alert_id] = announced
        self._announced.move_to_end(alert_id)
        while len(self._announced) > _MAX_TRACKED:
            self._announced.popitem(last=False)

    def _allow_global(self) -> bool:
        ok = _take(self._global, self.config.max_per_hour, 3600.0, self._clock())
        if not ok:
            self._limited("all notifications")
        return ok

    def _limited(self, what: str) -> None:
        self.stats.rate_limited += 1
        now = self._clock()
        if now - self._limit_logged > 60:
            self._limit_logged = now
            log.warning("notification rate limit reached (%s): messages are being dropped", what)

    def _enqueue(self, message: Message) -> None:
        for w in self._workers:
            if len(w.queue) >= w.maxsize:
                w.queue.popleft()
                self.stats.dropped += 1
            w.queue.append(message)
            w.idle.clear()
            w.ready.set()

    async def _work(self, w: _Worker) -> None:
        while True:
            while not w.queue:
                w.idle.set()
                w.ready.clear()
                await w.ready.wait()
            message = w.queue.popleft()
            w.busy = True
            try:
                await self._deliver(w.channel, message)
            finally:
                w.busy = False

    async def _deliver(self, channel: Channel, message: Message) -> None:
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            try:
                async with asyncio.timeout(channel.timeout + 5):
                    await channel.send(message)
                self.stats.sent += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any channel failure is retried, never fatal
                error = redact_text(str(exc) or type(exc).__name__)
                self.stats.last_error = f"{channel.name}: {error}"
                last = attempt == cfg.retries or isinstance(exc, PermanentError)
                if last:
                    self.stats.failed += 1
                    log.error("%s: giving up on %r: %s", channel.name, message.title, error)
                    return
                delay = min(cfg.backoff * 2**attempt, cfg.backoff_max)
                delay *= random.uniform(0.5, 1.0)  # jitter: retries of many alerts spread out
                self.stats.retries += 1
                log.warning("%s: %s (retry %d in %.1f s)", channel.name, error, attempt + 1, delay)
                await asyncio.sleep(delay)

    def pending(self) -> int:
        return sum(len(e) for _, e in self._batches.values()) + sum(
            len(w.queue) + w.busy for w in self._workers
        )


def _take(window: deque[float], limit: int, period: float, now: float) -> bool:
    """Sliding-window limiter: True (and counted) if one more fits."""
    while window and window[0] <= now - period:
        window.popleft()
    if len(window) >= limit:
        return False
    window.append(now)
    return True


def describe(channels: Iterable[Channel]) -> str:
    return ", ".join(c.name for c in channels) or "no channels"
