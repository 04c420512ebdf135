"""Availability report: the figures an SLA is settled on, from status intervals.

Definitions (per camera, over the window [since, until)):

- observed time: time covered by status intervals, except `stopped` and
  except maintenance windows. Time when nothing monitored the camera (daemon
  down) is neither up nor down: it is simply not observed.
- incident: a maximal run of back-to-back non-live intervals (connecting
  included) that contains at least one failure status (offline, stalled,
  auth_failed, not_found, unsupported). A run ends at a live interval, at a
  `stopped` interval or at a gap in monitoring. A reconnect that goes straight
  back to live is not an incident.
- downtime: the incidents' time inside the window, maintenance excluded.
- availability: 1 - downtime / observed time (None when nothing was observed).
  Connecting at start-up, outside an incident, counts as available.
- MTTR: downtime of the incidents that recovered (ended by a live interval)
  divided by their number; an incident still open at `until` is counted in
  incidents and downtime but not in MTTR.
- Only incidents with downtime inside the window (after maintenance) count.

Maintenance windows are silences with `maintenance = true` matching the
camera by name, site or tag.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from ..alerts.model import Silence
from ..state import Status
from .db import CameraRecord, StatusInterval, Store

_FAILURES = frozenset(s.value for s in Status if s.is_failure)
_ADJACENT_S = 1.0  # intervals closer than this are back to back (rounding, restart races)


@dataclass(frozen=True, slots=True)
class CameraReport:
    camera: str
    site: str
    observed_s: float
    downtime_s: float
    availability: float | None  # 0..1
    incidents: int
    recovered: int
    mttr_s: float | None
    maintenance_s: float
    open_incident: bool  # still down at the end of the window


def _merge(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlap(a: float, b: float, spans: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in spans)


def _clipped(a: float, b: float, since: float, until: float) -> tuple[float, float]:
    return max(a, since), min(b, until)


def maintenance_spans(
    silences: Iterable[Silence], camera: str, site: str, tags: Iterable[str]
) -> list[tuple[float, float]]:
    tagset = set(tags)
    spans = []
    for s in silences:
        if not s.maintenance:
            continue
        hit = (
            (s.target_kind == "camera" and s.target == camera)
            or (s.target_kind == "site" and s.target == site and site != "")
            or (s.target_kind == "tag" and s.target in tagset)
        )
        if hit:
            spans.append((s.start, s.end))
    return _merge(spans)


def camera_report(
    camera: str,
    site: str,
    intervals: Sequence[StatusInterval],
    maintenance: Sequence[tuple[float, float]],
    since: float,
    until: float,
) -> CameraReport:
    """Figures for one camera; `intervals` are its intervals overlapping the window."""
    maint = _merge(_clipped(a, b, since, until) for a, b in maintenance)
    spans = sorted(
        (iv.start, iv.end if iv.end is not None else until, iv.status) for iv in intervals
    )
    observed = 0.0
    for a, b, status in spans:
        if status != Status.STOPPED.value:
            ca, cb = _clipped(a, b, since, until)
            if cb > ca:
                observed += (cb - ca) - _overlap(ca, cb, maint)

    incidents = recovered = 0
    downtime = recovered_down = 0.0
    run_down, run_failed, prev_end = 0.0, False, None
    open_incident = False

    def close_run(recovered_now: bool) -> None:
        nonlocal incidents, recovered, downtime, recovered_down, run_down, run_failed
        if run_failed and run_down > 0:
            incidents += 1
            downtime += run_down
            if recovered_now:
                recovered += 1
                recovered_down += run_down
        run_down, run_failed = 0.0, False

    for a, b, status in spans:
        gap = prev_end is not None and a - prev_end > _ADJACENT_S
        if gap:
            close_run(False)
        if status == Status.LIVE.value:
            close_run(True)
        elif status == Status.STOPPED.value:
            close_run(False)
        else:
            run_failed = run_failed or status in _FAILURES
            ca, cb = _clipped(a, b, since, until)
            if cb > ca:
                run_down += (cb - ca) - _overlap(ca, cb, maint)
        prev_end = b
    if run_failed and run_down > 0:
        open_incident = prev_end is not None and prev_end >= until
    close_run(False)

    return CameraReport(
        camera=camera,
        site=site,
        observed_s=observed,
        downtime_s=downtime,
        availability=(1.0 - downtime / observed) if observed > 0 else None,
        incidents=incidents,
        recovered=recovered,
        mttr_s=(recovered_down / recovered) if recovered else None,
        maintenance_s=sum(b - a for a, b in maint),
        open_incident=open_incident,
    )


def worst_first(reports: Iterable[CameraReport]) -> list[CameraReport]:
    return sorted(
        reports,
        key=lambda r: (
            r.availability is None,
            r.availability if r.availability is not None else 0.0,
            -r.downtime_s,
            r.camera,
        ),
    )


async def build_report(
    store: Store,
    since: float,
    until: float,
    cameras: Mapping[str, CameraRecord] | None = None,
) -> list[CameraReport]:
    """Report for every camera with history in the window (or listed in `cameras`).

    `cameras` (name -> record with site and tags) overrides what the database
    knows, e.g. from the current inventory.
    """
    known = {c.name: c for c in await store.cameras()}
    known.update(cameras or {})
    by_camera: dict[str, list[StatusInterval]] = {}
    for iv in await store.intervals(since, until):
        by_camera.setdefault(iv.camera, []).append(iv)
    silences = await store.silences(maintenance_only=True)
    names = set(by_camera) | set(cameras or {})
    reports = []
    for name in names:
        rec = known.get(name)
        site, tags = (rec.site, rec.tags) if rec else ("", ())
        maint = maintenance_spans(silences, name, site, tags)
        reports.append(camera_report(name, site, by_camera.get(name, []), maint, since, until))
    return worst_first(reports)


# -- output -------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d {h:02d}h"
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.3f}%"


_HEAD = ("CAMERA", "SITE", "AVAILABILITY", "INCIDENTS", "MTTR", "DOWNTIME", "OBSERVED")


def format_table(reports: Sequence[CameraReport]) -> str:
    rows = [
        (
            r.camera + (" (down)" if r.open_incident else ""),
            r.site or "-",
            _percent(r.availability),
            str(r.incidents),
            format_duration(r.mttr_s),
            format_duration(r.downtime_s),
            format_duration(r.observed_s),
        )
        for r in reports
    ]
    widths = [max(len(x) for x in col) for col in zip(_HEAD, *rows, strict=False)]
    lines = []
    for row in (_HEAD, *rows):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def format_csv(reports: Sequence[CameraReport]) -> str:
    buf = io.StringIO()
    fields = list(CameraReport.__dataclass_fields__)
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in reports:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(r).items()})
    return buf.getvalue()


def format_json(reports: Sequence[CameraReport], since: float, until: float) -> str:
    doc = {"since": since, "until": until, "cameras": [asdict(r) for r in reports]}
    return json.dumps(doc, indent=2) + "\n"
