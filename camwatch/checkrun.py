"""One-shot check of a whole fleet, for cron and Nagios (`camwatch check`).

    report = await check_fleet(cameras, CheckOptions(seconds=10, concurrency=256))
    report.exit_code            # 0 healthy, 1 any warning, 2 any critical
    render_text(report) / render_json(report) / render_nagios(report)

Every camera is observed by `probe()` (with its image-analysis frame hook),
all at once up to `concurrency`: the wall time is one observation window (a
failing camera finishes sooner) whatever the fleet size, until the fleet is
larger than the limit; then cameras run in waves of `concurrency`.

Why 256 by default, not 64: the goal is one window for a site of about 200
cameras, and only a limit above the fleet size gives that. Measured with
bench/bench_check.py (217 simulated 640x360 cameras, 2 cores shared with the
simulator): 5 s window, 6.0 s at 256 against 20.5 s at 64 (four waves); 10 s
window, 10.4 s against 40.7 s. A camera under observation costs about 5 ms of
CPU per second of window, one socket (three with UDP) and about 4 MB of
memory, mostly its own FFmpeg decoder (874 MB peak at 217 cameras at once,
386 MB at 64; a 1080p main stream needs ~3 MB more per decoder than a 360p
substream). On a small machine, lower --concurrency and accept the waves.
The soft open-files limit is raised to fit when the hard limit permits.

Severity comes from `probe.judge`: a failure status (offline, stalled, auth,
not found, unsupported) is critical; stream figures (loss, jitter, low fps,
long GOP) are warnings; image conditions carry their own severity. Output
never contains a password: URLs are the redacted display URLs, and every line
goes through `redact_text` once more on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import CameraConfig
from .redact import redact_text
from .state import CameraState, Severity, Status

if TYPE_CHECKING:  # probe pulls in PyAV: imported when a check runs, not for --help
    from .probe import ProbeResult

log = logging.getLogger("camwatch.check")

DEFAULT_CONCURRENCY = 256
DEFAULT_SECONDS = 10.0
KEYFRAME_GRACE_S = 5.0  # probe() waits this much past the window for a first keyframe
_FDS_PER_CAMERA = 4  # TCP: 1 socket; UDP: RTSP socket + RTP/RTCP pair; plus slack
NAGIOS_NAMES = 10  # cameras named on the Nagios line before "+N more"
EXIT_OK, EXIT_WARNING, EXIT_CRITICAL = 0, 1, 2  # as camwatch.probe
_VERDICT = {EXIT_OK: "OK", EXIT_WARNING: "WARNING", EXIT_CRITICAL: "CRITICAL"}


@dataclass(frozen=True, slots=True)
class CheckOptions:
    seconds: float = DEFAULT_SECONDS  # observation window per camera
    timeout: float | None = None  # per RTSP request; None: each camera's connect_timeout
    concurrency: int = DEFAULT_CONCURRENCY
    analysis: bool = True  # image checks (black, covered, frozen...) on decoded keyframes


@dataclass(frozen=True, slots=True)
class CheckReport:
    results: tuple[ProbeResult, ...]  # inventory order
    wall_s: float
    options: CheckOptions

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.results), default=EXIT_OK)

    def count(self, code: int) -> int:
        return sum(1 for r in self.results if r.exit_code == code)

    @property
    def live(self) -> int:
        return sum(1 for r in self.results if r.state.status is Status.LIVE)

    @property
    def waves(self) -> int:
        return max(1, math.ceil(len(self.results) / self.options.concurrency))


# -- running -------------------------------------------------------------------------


async def check_fleet(
    cameras: Sequence[CameraConfig],
    options: CheckOptions = CheckOptions(),
    baselines: dict[str, Any] | None = None,
) -> CheckReport:
    """Observe every camera (at most `options.concurrency` at a time)."""
    raise_fd_limit(min(len(cameras), options.concurrency))
    gate = asyncio.Semaphore(options.concurrency)
    started = time.monotonic()

    async def one(cfg: CameraConfig) -> ProbeResult:
        async with gate:
            return await check_camera(cfg, options, (baselines or {}).get(cfg.name))

    results = await asyncio.gather(*(one(c) for c in cameras))
    return CheckReport(tuple(results), time.monotonic() - started, options)


async def check_camera(
    cfg: CameraConfig, options: CheckOptions, baseline: Any = None
) -> ProbeResult:
    """One camera, one window; never raises (a failure of the check is a result)."""
    from .imaging import frame_hook_for
    from .probe import probe
    from .targets import target_of

    timeout = options.timeout or cfg.connect_timeout
    # probe() ends by window + keyframe grace + a bounded TEARDOWN; this only
    # catches a bug that would otherwise hang the whole run.
    guard = options.seconds + KEYFRAME_GRACE_S + timeout + 10.0
    started = time.monotonic()
    try:
        hook = frame_hook_for(cfg, baseline) if options.analysis else None
        result = await asyncio.wait_for(
            probe(
                target_of(cfg),
                options.seconds,
                connect_timeout=timeout,
                # A stream silent from the start must read "stalled" inside the window.
                stall_timeout=min(cfg.stall_timeout, options.seconds / 2),
                frame_hook=hook,
            ),
            guard,
        )
    except TimeoutError:
        return _failed(cfg, f"check did not finish within {guard:g} s", started)
    except Exception as exc:  # one camera's bug must not sink the fleet's report
        log.exception("camera %s: check failed", cfg.name)
        return _failed(cfg, f"check failed: {redact_text(repr(exc))}", started)
    return _settle(result, options.seconds)


def _settle(result: ProbeResult, seconds: float) -> ProbeResult:
    """A session still being set up when the window closed is, for a check, offline."""
    from .probe import judge

    state = result.state
    if state.status is not Status.CONNECTING:
        return result
    state = dataclasses.replace(
        state,
        status=Status.OFFLINE,
        reason=f"not streaming after the {seconds:g} s window: {state.reason}",
    )
    return dataclasses.replace(result, state=state, problems=tuple(judge(state)))


def _failed(cfg: CameraConfig, reason: str, started: float) -> ProbeResult:
    from .probe import ProbeResult, judge

    state = CameraState(
        name=cfg.name,
        url=cfg.display_url(),
        site=cfg.site,
        tags=cfg.tags,
        status=Status.OFFLINE,
        reason=reason,
    )
    return ProbeResult(state, time.monotonic() - started, tuple(judge(state)))


def raise_fd_limit(cameras: int) -> None:
    """Lift the soft open-files limit (1024 on many systems) when the run needs more."""
    want = cameras * _FDS_PER_CAMERA + 64
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < want:
            target = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def load_baselines(db_path: Path | None, names: Sequence[str]) -> dict[str, Any]:
    """Baselines the daemon learned (for focus and camera-moved checks), if its
    database exists and is readable; a check without them still runs."""
    from .analysis.baseline import Baseline
    from .paths import default_db_path
    from .store.db import Store

    path = Path(db_path) if db_path is not None else default_db_path()
    if not path.is_file():
        return {}
    out: dict[str, Any] = {}
    try:
        store = await Store.open(path, readonly=True)
    except Exception as exc:  # history is optional here: say why at -v, carry on
        log.info("no baselines from %s: %s", path, exc)
        return {}
    try:
        for name in names:
            data = await store.load_baseline(name)
            if data:
                with contextlib.suppress(ValueError, KeyError, OSError):
                    out[name] = Baseline.from_bytes(data)
    except Exception as exc:
        log.info("baselines from %s unreadable: %s", path, exc)
    finally:
        await store.close()
    return out


# -- rendering -------------------------------------------------------------------------


def severity_of(result: ProbeResult) -> Severity:
    return {
        EXIT_OK: Severity.OK,
        EXIT_WARNING: Severity.WARNING,
        EXIT_CRITICAL: Severity.CRITICAL,
    }[result.exit_code]


def _worst_first(report: CheckReport) -> list[ProbeResult]:
    bad = [r for r in report.results if r.problems]
    return sorted(bad, key=lambda r: -r.exit_code)  # stable: inventory order within a level


def _timing(report: CheckReport) -> str:
    window = f"{report.options.seconds:g} s window"
    if report.waves > 1:
        window += f" x {report.waves} waves of {report.options.concurrency}"
    return f"{window}, {report.wall_s:.1f} s in all"


def _tally(report: CheckReport) -> str:
    parts = []
    if report.count(EXIT_CRITICAL):
        parts.append(f"{report.count(EXIT_CRITICAL)} critical")
    if report.count(EXIT_WARNING):
        parts.append(f"{report.count(EXIT_WARNING)} warning")
    return ", ".join(parts)


def render_text(report: CheckReport) -> str:
    """Problems only, grouped by camera, worst first; one OK line when all is well."""
    n = len(report.results)
    if report.exit_code == EXIT_OK:
        return redact_text(f"camwatch check: OK, {n} cameras healthy ({_timing(report)})")
    lines = [f"camwatch check: {_tally(report)} of {n} cameras ({_timing(report)})"]
    for r in _worst_first(report):
        s = r.state
        where = f" ({s.site})" if s.site else ""
        lines.append("")
        lines.append(f"{severity_of(r).value.upper()} {s.name}{where} {s.url}")
        lines += [f"  - [{sev.value}] {text}" for sev, text in r.problems]
    return redact_text("\n".join(lines))


def render_json(report: CheckReport) -> str:
    """Every camera's state, statistics and conditions, plus a summary."""
    cameras = []
    for r in report.results:
        item = r.to_json()
        item.update(site=r.state.site, tags=list(r.state.tags), severity=severity_of(r).value)
        cameras.append(item)
    doc = {
        "status": _VERDICT[report.exit_code].lower(),
        "exit_code": report.exit_code,
        "summary": {
            "cameras": len(report.results),
            "live": report.live,
            "ok": report.count(EXIT_OK),
            "warning": report.count(EXIT_WARNING),
            "critical": report.count(EXIT_CRITICAL),
            "window_s": report.options.seconds,
            "concurrency": report.options.concurrency,
            "waves": report.waves,
            "wall_s": round(report.wall_s, 2),
        },
        "cameras": cameras,
    }
    return redact_text(json.dumps(doc, indent=2))


def short_problem(result: ProbeResult) -> str:
    """A few words for the Nagios line: the status, an image condition, or a figure."""
    s = result.state
    if s.status.is_failure:
        return s.status.value
    worst = severity_of(result)
    for cond in s.active_conditions():
        if cond.severity is worst:
            return cond.kind.replace("_", " ")
    text = result.problems[0][1] if result.problems else s.status.value
    return text.split(" (", 1)[0]


def render_nagios(report: CheckReport) -> str:
    """One line: `CAMWATCH <STATE> - summary: names | perfdata` (plugin guidelines)."""
    n, code = len(report.results), report.exit_code
    if code == EXIT_OK:
        text = f"{n} cameras healthy"
    else:
        bad = _worst_first(report)
        names = [f"{r.state.name} {short_problem(r)}" for r in bad[:NAGIOS_NAMES]]
        if len(bad) > NAGIOS_NAMES:
            names.append(f"+{len(bad) - NAGIOS_NAMES} more")
        text = f"{_tally(report)} of {n} cameras: " + ", ".join(names)
    perf = " ".join(
        [
            f"cameras={n};;;0",
            f"live={report.live};;;0;{n}",
            f"ok={report.count(EXIT_OK)};;;0;{n}",
            f"warning={report.count(EXIT_WARNING)};;;0;{n}",
            f"critical={report.count(EXIT_CRITICAL)};;;0;{n}",
            f"duration={report.wall_s:.2f}s;;;0",
        ]
    )
    # "|" separates perfdata for Nagios: it must not appear in the text part.
    text = text.replace("|", "/").replace("\n", " ")
    return redact_text(f"CAMWATCH {_VERDICT[code]} - {text} | {perf}")


def render_unknown(message: str) -> str:
    """The Nagios line for a usage or configuration error (exit 3)."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return redact_text(f"CAMWATCH UNKNOWN - {first}".replace("|", "/"))
