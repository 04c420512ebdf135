"""Rule engine: camera states in, alert events out.

`RuleEngine(rules_config, cameras).evaluate(state, now)` turns one CameraState
into zero or more AlertEvents; `tick(now)` advances the raise/clear timers of
every camera when no new state arrived. The engine is synchronous and pure
CPU (no I/O), so the monitor can call it inline on the event loop.

Rules (built-in defaults; all overridable):

    rule          severity  raise_after  clear_after  threshold
    offline       critical  10 s         20 s         -
    stalled       critical  10 s         20 s         -
    auth_failed   critical  10 s         20 s         -
    not_found     critical  10 s         20 s         -
    unsupported   warning   10 s         20 s         -
    packet_loss   warning   20 s         40 s         0.02   (loss ratio above)
    jitter        warning   20 s         40 s         30     (frame jitter ms above)
    low_fps       warning   20 s         40 s         0.5    (x learned fps; `min_fps`: floor)
    bitrate_drop  warning   20 s         40 s         0.2    (fraction of the learned bitrate)
    long_gop      warning   20 s         40 s         10     (keyframe interval s above)
    clock_drift   warning   20 s         40 s         500    (|ppm| above)
    covered       critical  20 s         40 s         -      (image: the analyzer sets `active`)
    black, low_light, overexposed, low_contrast, color_cast, noise, defocus, frozen, moved:
                  warning   20 s         40 s         -

Why these delays: a 10 s raise delay swallows the reconnect blips every RTSP
camera has, while still paging well under a minute after a real outage; the
clear delay is twice the raise delay so a camera that comes back for a moment
does not resolve and re-raise. Statistics and image rules wait 20 s: longer
than the stream states, so a camera that goes offline raises `offline` before
its fps or frozen rules could fire as consequences (and they are frozen while
the camera is not live anyway), and long enough to outlast what is transient
(a light step re-baselines in a few samples, a loss burst leaves the 5 s
statistics window), while a spray or a cover is paged within half a minute
(the analyzers see it in 0.3-6 s, bench/EVAL_RESULTS.md).

Jitter is the per-frame interarrival jitter (`StreamStats.frame_jitter_ms`,
see camwatch.stats): the RFC 3550 per-packet figure dilutes frame delays by
the number of packets per frame.

Status rules hold while the camera is `connecting` (a camera reconnecting
after an outage is still down). While a camera is not live (or live for less
than `SETTLE_S`), statistics and image rules are frozen: pending ones are
cancelled, open alerts are kept unchanged, because they are consequences of
the outage, not faults of their own. `stopped` resolves everything at once.

Learned references: low_fps and bitrate_drop compare against the camera's own
nominal value, an asymmetric moving average (rises in ~30 s, decays over
~10 min) learned while the camera is live, settled and not in that fault.
They only judge after `LEARN_S` seconds of learning.

Flapping: raises and resolves (after hysteresis; blips shorter than the raise
delay never count) are counted per camera and rule. When they reach
`flapping.changes` (4) within `flapping.window` (600 s), the alert turns into
one "flapping" alert that stays open until the condition has been clear for
`flapping.quiet` (300 s): one message instead of a stream of raise/resolve.

Configuration (the inventory's `rules` section; every key optional):

    [rules.packet_loss]           # severity, raise_after, clear_after, threshold, enabled
    severity = "critical"
    threshold = 0.05
    [rules.low_fps]
    min_fps = 5                   # absolute floor, besides the relative threshold
    [rules.flapping]
    changes = 4
    window = 600
    quiet = 300
    [rules.sites.depot.jitter]    # per site, tag, camera: same keys, or a bare number
    threshold = 80
    [rules.tags]
    outdoor = { low_light = { enabled = false } }
    [rules.cameras.gate-1]
    packet_loss = 0.1             # a bare number is the threshold

Precedence: camera > tag > site > rule > built-in; a camera object's
`.thresholds` mapping ({rule: threshold}, plus "min_fps") applies last. When a
camera has several tags with overrides, its first listed tag wins.
"""

from __future__ import annotations

import getpass
import math
import os
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..redact import redact_text
from ..state import IMAGE_CONDITION_KINDS, CameraState, Severity, Status
from .model import Alert, AlertEvent, AlertState, Silence

STATUS_RULES: tuple[str, ...] = ("offline", "stalled", "auth_failed", "not_found", "unsupported")
STATS_RULES: tuple[str, ...] = (
    "packet_loss",
    "jitter",
    "low_fps",
    "bitrate_drop",
    "long_gop",
    "clock_drift",
)
IMAGE_RULES: tuple[str, ...] = IMAGE_CONDITION_KINDS
ALL_RULES: tuple[str, ...] = STATUS_RULES + STATS_RULES + IMAGE_RULES
# Condition kinds that are measurements, not faults: never alerted on.
NON_ALERT_KINDS = frozenset({"motion"})

# Statistics need this long after going live to mean anything: the 5 s window
# (camwatch.stats) must hold no part of the outage, plus a publish interval.
SETTLE_S = 6.0
LEARN_S = 60.0  # learned fps/bitrate judge only after this much learning
_TAU_UP_S = 30.0
_TAU_DOWN_S = 600.0

_STATUS_OF_RULE = {rule: Status(rule) for rule in STATUS_RULES}


class RuleConfigError(ValueError):
    """The rules configuration is invalid; `problems` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid rules configuration:\n  " + "\n  ".join(problems))


class UnknownAlertError(KeyError):
    """ack() of an alert id that is not open."""

    def __str__(self) -> str:
        return f"no open alert with id {self.args[0]!r}"


def current_user() -> str:
    """The OS login name behind an action (ack, silence, baseline...)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry and no LOGNAME/USER (containers)
        return f"uid:{os.getuid()}"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    severity: Severity
    raise_after: float
    clear_after: float
    threshold: float | None = None
    min_fps: float | None = None  # low_fps only: absolute floor
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    changes: int = 4
    window: float = 600.0
    quiet: float = 300.0


def _default_specs() -> dict[str, RuleSpec]:
    crit, warn = Severity.CRITICAL, Severity.WARNING
    specs = {r: RuleSpec(r, crit, 10.0, 20.0) for r in STATUS_RULES}
    specs["unsupported"] = replace(specs["unsupported"], severity=warn)
    thresholds = {
        "packet_loss": 0.02,
        "jitter": 30.0,
        "low_fps": 0.5,
        "bitrate_drop": 0.2,
        "long_gop": 10.0,
        "clock_drift": 500.0,
    }
    for rule, thr in thresholds.items():
        specs[rule] = RuleSpec(rule, warn, 20.0, 40.0, thr)
    for rule in IMAGE_RULES:
        specs[rule] = RuleSpec(rule, crit if rule == "covered" else warn, 20.0, 40.0)
    return specs


DEFAULT_SPECS: Mapping[str, RuleSpec] = _default_specs()
# The keys of a camera's `thresholds` table the rules read (resolve_specs): each
# thresholded rule's threshold, and low_fps's absolute floor.
RULE_THRESHOLD_KEYS: tuple[str, ...] = (
    *(rule for rule, spec in DEFAULT_SPECS.items() if spec.threshold is not None),
    "min_fps",
)

_SPEC_KEYS = {"severity", "raise_after", "clear_after", "threshold", "min_fps", "enabled"}
_SCOPES = ("sites", "tags", "cameras")


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Validated rules configuration (see the module docstring for the format)."""

    base: Mapping[str, RuleSpec]
    sites: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    cameras: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    flapping: FlapPolicy = FlapPolicy()


def _parse_fields(raw: object, where: str, problems: list[str]) -> dict[str, Any]:
    """One rule's overrides: a mapping of spec keys, or a bare number (threshold)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | Mapping):
        problems.append(f"{where}: expected a table or a number, got {type(raw).__name__}")
        return {}
    if not isinstance(raw, Mapping):
        return {"threshold": float(raw)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SPEC_KEYS:
            problems.append(f"{where}.{key}: unknown key (expected one of {sorted(_SPEC_KEYS)})")
        elif key == "severity":
            if value in (Severity.WARNING.value, Severity.CRITICAL.value):
                out[key] = Severity(value)
            else:
                problems.append(
                    f"{where}.severity: expected 'warning' or 'critical', got {value!r}"
                )
        elif key == "enabled":
            if isinstance(value, bool):
                out[key] = value
            else:
                problems.append(f"{where}.enabled: expected true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{where}.{key}: expected a number >= 0, got {value!r}")
        else:
            out[key] = float(value)
    return out


def _parse_rule_table(raw: object, where: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table of rules")
        return {}
    out = {}
    for rule, value in raw.items():
        if rule not in ALL_RULES:
            problems.append(f"{where}.{rule}: unknown rule (known: {', '.join(ALL_RULES)})")
            continue
        out[rule] = _parse_fields(value, f"{where}.{rule}", problems)
    return out


def _parse_flapping(raw: object, problems: list[str]) -> FlapPolicy:
    if not isinstance(raw, Mapping):
        problems.append("rules.flapping: expected a table")
        return FlapPolicy()
    policy = FlapPolicy()
    for key, value in raw.items():
        if key not in ("changes", "window", "quiet"):
            problems.append(f"rules.flapping.{key}: unknown key (changes, window, quiet)")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(f"rules.flapping.{key}: expected a number > 0, got {value!r}")
        else:
            policy = replace(policy, **{key: int(value) if key == "changes" else float(value)})
    return policy


def parse_rules_config(raw: Mapping[str, Any] | RulesConfig | None) -> RulesConfig:
    """Validate a `rules` section; raises RuleConfigError listing every problem."""
    if isinstance(raw, RulesConfig):
        return raw
    problems: list[str] = []
    base = dict(DEFAULT_SPECS)
    scopes: dict[str, dict[str, dict[str, dict[str, Any]]]] = {s: {} for s in _SCOPES}
    flapping = FlapPolicy()
    for key, value in (raw or {}).items():
        if key in _SCOPES:
            if not isinstance(value, Mapping):
                problems.append(f"rules.{key}: expected a table")
                continue
            for target, table in value.items():
                scopes[key][str(target)] = _parse_rule_table(
                    table, f"rules.{key}.{target}", problems
                )
        elif key == "flapping":
            flapping = _parse_flapping(value, problems)
        elif key in ALL_RULES:
            base[key] = replace(base[key], **_parse_fields(value, f"rules.{key}", problems))
        else:
            problems.append(f"rules.{key}: unknown rule (known: {', '.join(ALL_RULES)})")
    if problems:
        raise RuleConfigError(problems)
    return RulesConfig(base, scopes["sites"], scopes["tags"], scopes["cameras"], flapping)


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What the engine needs to know about a camera from the inventory."""

    name: str
    site: str = ""
    tags: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)


def _camera_info(obj: Any) -> CameraInfo:
    return CameraInfo(
        name=str(obj.name),
        site=str(getattr(obj, "site", "") or ""),
        tags=tuple(getattr(obj, "tags", ()) or ()),
        thresholds=dict(getattr(obj, "thresholds", None) or {}),
    )


def resolve_specs(config: RulesConfig, camera: CameraInfo) -> dict[str, RuleSpec]:
    """The effective rule specs of one camera: camera > tag > site > rule > built-in."""
    specs = dict(config.base)
    layers = [config.sites.get(camera.site, {})]
    # First listed tag wins, so apply tags in reverse order.
    layers += [config.tags.get(tag, {}) for tag in reversed(camera.tags)]
    layers.append(config.cameras.get(camera.name, {}))
    for layer in layers:
        for rule, fields in layer.items():
            specs[rule] = replace(specs[rule], **fields)
    for key, value in camera.thresholds.items():
        if key == "min_fps":
            specs["low_fps"] = replace(specs["low_fps"], min_fps=float(value))
        elif key in specs:
            specs[key] = replace(specs[key], threshold=float(value))
        # other keys belong to the image analyzers' own thresholds
    return specs


@dataclass(frozen=True, slots=True)
class _Obs:
    """One rule's observation from one state."""

    active: bool
    value: float | None = None
    threshold: float | None = None
    reason: str = ""
    severity: Severity | None = None  # only for condition kinds without a built-in rule


_HOLD = "hold"  # no information: keep the previous observation (status rules while connecting)
_FREEZE = "freeze"  # judging is meaningless now: cancel pending, keep open alerts


class _Learned:
    """Asymmetric moving average: learns a camera's nominal value quickly, forgets slowly."""

    __slots__ = ("last_t", "learned_s", "value")

    def __init__(self) -> None:
        self.value: float | None = None
        self.last_t: float | None = None
        self.learned_s = 0.0

    def update(self, sample: float, now: float) -> None:
        if self.value is None or self.last_t is None:
            self.value, self.last_t = sample, now
            return
        dt = min(max(now - self.last_t, 0.0), 10.0)  # a long gap is not learning time
        self.last_t = now
        self.learned_s += dt
        tau = _TAU_UP_S if sample > self.value else _TAU_DOWN_S
        self.value += (sample - self.value) * (1.0 - math.exp(-dt / tau))

    def reference(self) -> float | None:
        return self.value if self.learned_s >= LEARN_S and self.value else None


@dataclass
class _Track:
    """Timers and the open alert of one (camera, rule)."""

    rule: str
    active: bool = False
    active_since: float | None = None
    inactive_since: float | None = None
    obs: _Obs | None = None
    alert: Alert | None = None
    changes: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    flapping: bool = False
    last_id: str = ""


@dataclass
class _Camera:
    info: CameraInfo
    specs: dict[str, RuleSpec]
    tracks: dict[str, _Track] = field(default_factory=dict)
    obs: dict[str, _Obs | str] = field(default_factory=dict)
    status: Status = Status.CONNECTING
    fps: _Learned = field(default_factory=_Learned)
    bitrate: _Learned = field(default_factory=_Learned)
    # The last state, while it arrived too soon after going live to judge its
    # statistics: tick() judges it once the camera has settled, so a quiet
    # camera (which republishes every few seconds) is not judged late.
    unsettled: CameraState | None = None


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


class RuleEngine:
    """Evaluates rules per camera with hysteresis, flap detection and silences."""

    def __init__(
        self,
        rules_config: Mapping[str, Any] | RulesConfig | None = None,
        cameras: Iterable[Any] | Mapping[str, Any] | None = None,
    ) -> None:
        self._config = parse_rules_config(rules_config)
        self._inventory: dict[str, CameraInfo] = {}
        self._cams: dict[str, _Camera] = {}
        self._silences: dict[int, Silence] = {}
        self._last_silence_id = 0  # ids are never reused, even after a silence expires
        self._by_id: dict[str, tuple[str, str]] = {}  # alert id -> (camera, rule)
        self._open: tuple[Alert, ...] = ()
        self._set_inventory(cameras)

    # -- configuration -----------------------------------------------------

    def _set_inventory(self, cameras: Iterable[Any] | Mapping[str, Any] | None) -> None:
        objs = cameras.values() if isinstance(cameras, Mapping) else (cameras or ())
        self._inventory = {info.name: info for info in map(_camera_info, objs)}

    def update_config(
        self,
        rules_config: Mapping[str, Any] | RulesConfig | None,
        cameras: Iterable[Any] | Mapping[str, Any] | None,
        now: float,
    ) -> list[AlertEvent]:
        """Apply a reloaded config; alerts of removed cameras or disabled rules resolve."""
        self._config = parse_rules_config(rules_config)
        self._set_inventory(cameras)
        events: list[AlertEvent] = []
        for name in list(self._cams):
            if self._inventory and name not in self._inventory:
                events += self.forget(name, now)
                continue
            cam = self._cams[name]
            cam.info = self._inventory.get(name, cam.info)
            cam.specs = resolve_specs(self._config, cam.info)
            events += self._advance(cam, now)
        return events

    @property
    def flap_policy(self) -> FlapPolicy:
        return self._config.flapping

    def specs_for(self, camera: str) -> dict[str, RuleSpec]:
        """Effective rules of a camera (for `camwatch` views and tests)."""
        info = self._inventory.get(camera, CameraInfo(camera))
        return resolve_specs(self._config, info)

    # -- evaluation --------------------------------------------------------

    def evaluate(self, state: CameraState, now: float) -> list[AlertEvent]:
        cam = self._camera(state)
        cam.status = state.status
        if state.status is Status.STOPPED:
            return self._resolve_all(cam, now, "camera stopped")
        cam.obs = self._observe(cam, state, now)
        settling = state.status is Status.LIVE and now - state.since < SETTLE_S
        cam.unsettled = state if settling else None
        return self._advance(cam, now)

    def tick(self, now: float) -> list[AlertEvent]:
        """Advance timers of every camera without new data (call about once a second)."""
        events: list[AlertEvent] = []
        for cam in self._cams.values():
            state = cam.unsettled
            if state is not None and now - state.since >= SETTLE_S:
                cam.unsettled = None
                cam.obs = self._observe(cam, state, now)
            events += self._advance(cam, now)
        events += self._expire_silences(now)
        return events

    def _camera(self, state: CameraState) -> _Camera:
        cam = self._cams.get(state.name)
        if cam is None:
            info = self._inventory.get(state.name) or CameraInfo(
                state.name, state.site, tuple(state.tags)
            )
            cam = _Camera(info, resolve_specs(self._config, info))
            self._cams[state.name] = cam
        return cam

    def _observe(self, cam: _Camera, state: CameraState, now: float) -> dict[str, _Obs | str]:
        obs: dict[str, _Obs | str] = {}
        status = state.status
        for rule in STATUS_RULES:
            if status is Status.CONNECTING:
                obs[rule] = _HOLD
            else:
                active = status is _STATUS_OF_RULE[rule]
                reason = redact_text(state.reason) if active and state.reason else rule
                obs[rule] = _Obs(active, reason=reason)
        live_for = now - state.since
        judging = status is Status.LIVE and live_for >= SETTLE_S
        if judging:
            obs.update(self._observe_stats(cam, state, now))
        else:
            obs.update(dict.fromkeys(STATS_RULES, _FREEZE))
        for cond in state.conditions:
            if cond.kind in NON_ALERT_KINDS or cond.kind in STATUS_RULES + STATS_RULES:
                continue  # stream rules are judged from status and statistics here
            if status is not Status.LIVE:
                obs[cond.kind] = _FREEZE
                continue
            severity = None if cond.kind in DEFAULT_SPECS else cond.severity
            reason = redact_text(cond.reason) if cond.reason else cond.kind.replace("_", " ")
            obs[cond.kind] = _Obs(cond.active, cond.value, cond.threshold, reason, severity)
        for rule in cam.tracks:  # an image condition that disappeared is inactive
            obs.setdefault(rule, _FREEZE if status is not Status.LIVE else _Obs(False))
        return obs

    def _observe_stats(self, cam: _Camera, state: CameraState, now: float) -> dict[str, _Obs]:
        st, specs = state.stats, cam.specs
        out: dict[str, _Obs] = {}

        def above(rule: str, value: float | None, text: str) -> None:
            thr = specs[rule].threshold
            if value is not None and thr is not None:
                out[rule] = _Obs(value > thr, value, thr, text)

        thr = specs["packet_loss"].threshold or 0.0
        above(
            "packet_loss",
            st.loss_ratio,
            f"packet loss {_pct(st.loss_ratio)} above {_pct(thr)}",
        )
        jthr = specs["jitter"].threshold or 0.0
        fj = st.frame_jitter_ms
        above("jitter", fj, f"frame jitter {fj:.0f} ms above {jthr:.0f} ms")
        if st.gop_s is not None:
            gthr = specs["long_gop"].threshold or 0.0
            above("long_gop", st.gop_s, f"keyframe interval {st.gop_s:.1f} s above {gthr:.1f} s")
        if st.clock_drift_ppm is not None:
            cthr = specs["clock_drift"].threshold or 0.0
            above(
                "clock_drift",
                abs(st.clock_drift_ppm),
                f"camera clock drifts {st.clock_drift_ppm:+.0f} ppm (limit ±{cthr:.0f})",
            )
        out["low_fps"] = self._low_fps(cam, st.fps, now)
        out["bitrate_drop"] = self._bitrate_drop(cam, st.bitrate_bps, now)
        return out

    def _low_fps(self, cam: _Camera, fps: float, now: float) -> _Obs:
        spec = cam.specs["low_fps"]
        nominal = cam.fps.reference()
        if spec.min_fps and fps < spec.min_fps:
            return _Obs(True, fps, spec.min_fps, f"{fps:.1f} fps, below {spec.min_fps:g} fps")
        if nominal and spec.threshold is not None and fps < spec.threshold * nominal:
            text = f"{fps:.1f} fps, below {spec.threshold:.0%} of its usual {nominal:.1f} fps"
            return _Obs(True, fps, spec.threshold * nominal, text)
        cam.fps.update(fps, now)
        return _Obs(False, fps)

    def _bitrate_drop(self, cam: _Camera, bps: float, now: float) -> _Obs:
        spec = cam.specs["bitrate_drop"]
        nominal = cam.bitrate.reference()
        if nominal and spec.threshold is not None and bps < spec.threshold * nominal:
            text = (
                f"bitrate {bps / 1000:.0f} kbit/s, below {spec.threshold:.0%}"
                f" of its usual {nominal / 1000:.0f} kbit/s"
            )
            return _Obs(True, bps, spec.threshold * nominal, text)
        cam.bitrate.update(bps, now)
        return _Obs(False, bps)

    # -- timers --------------------------------------------------------------

    def _spec(self, cam: _Camera, rule: str, obs: _Obs | None) -> RuleSpec | None:
        spec = cam.specs.get(rule)
        if spec is None:  # a condition kind without a built-in rule
            severity = obs.severity if obs and obs.severity else Severity.WARNING
            spec = replace(DEFAULT_SPECS["black"], name=rule, severity=severity)
        return spec if spec.enabled else None

    def _advance(self, cam: _Camera, now: float) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for rule, obs in cam.obs.items():
            track = cam.tracks.get(rule)
            if track is None:
                if not isinstance(obs, _Obs) or not obs.active:
                    continue  # nothing to track yet
                track = cam.tracks[rule] = _Track(rule)
        for rule, track in list(cam.tracks.items()):
            obs = cam.obs.get(rule, _FREEZE)
            spec = self._spec(cam, rule, obs if isinstance(obs, _Obs) else track.obs)
            if spec is None:
                if track.alert is not None:
                    events.append(self._resolve(cam, track, now, "rule disabled"))
                del cam.tracks[rule]
                continue
            events += self._step(cam, track, spec, obs, now)
            if track.alert is None and not track.active and not track.changes:
                del cam.tracks[rule]
        return events

    def _step(
        self, cam: _Camera, track: _Track, spec: RuleSpec, obs: _Obs | str, now: float
    ) -> list[AlertEvent]:
        if obs == _FREEZE:
            if track.alert is None:
                track.active, track.active_since = False, None
            track.inactive_since = None
            return []
        if isinstance(obs, _Obs):
            if obs.active and not track.active:
                track.active_since = now
            elif not obs.active:
                track.active_since = None
            track.active = obs.active
            if obs.active or track.obs is None:
                track.obs = obs
        if track.active:
            track.inactive_since = None
            since = track.active_since if track.active_since is not None else now
            if track.alert is None and now - since >= spec.raise_after:
                return [self._raise(cam, track, spec, since, now)]
            return []
        if track.alert is None:
            return []
        if track.inactive_since is None:
            track.inactive_since = now
        need = max(spec.clear_after, self.flap_policy.quiet) if track.flapping else spec.clear_after
        if now - track.inactive_since >= need:
            return [self._clear(cam, track, now)]
        return []

    def _count_change(self, track: _Track, now: float) -> bool:
        """Record a raise or resolve; True when that makes the alert flap."""
        policy = self.flap_policy
        track.changes.append(now)
        while track.changes and track.changes[0] < now - policy.window:
            track.changes.popleft()
        return len(track.changes) >= policy.changes

    def _raise(
        self, cam: _Camera, track: _Track, spec: RuleSpec, started: float, now: float
    ) -> AlertEvent:
        flapping = self._count_change(track, now)
        track.flapping = flapping
        alert_id = f"{cam.info.name}:{track.rule}:{int(now * 1000)}"
        if alert_id == track.last_id:
            alert_id += f".{len(track.changes)}"
        track.last_id = alert_id
        obs = track.obs or _Obs(True)
        alert = Alert(
            id=alert_id,
            camera=cam.info.name,
            rule=track.rule,
            severity=spec.severity,
            state=AlertState.FIRING,
            reason=obs.reason or track.rule,
            started=started,
            raised=now,
            updated=now,
            site=cam.info.site,
            value=obs.value,
            threshold=obs.threshold,
            silenced=self._silenced(cam.info, now) is not None,
            flapping=flapping,
        )
        track.alert = alert
        self._by_id[alert_id] = (cam.info.name, track.rule)
        self._refresh_open()
        return AlertEvent("flapping" if flapping else "raised", alert, now)

    def _clear(self, cam: _Camera, track: _Track, now: float) -> AlertEvent:
        assert track.alert is not None
        if not track.flapping and self._count_change(track, now):
            track.flapping = True
            track.inactive_since = now  # the quiet period starts now
            track.alert = replace(
                track.alert,
                flapping=True,
                updated=now,
                silenced=self._silenced(cam.info, now) is not None,
            )
            self._refresh_open()
            return AlertEvent("flapping", track.alert, now)
        if track.flapping:
            track.flapping = False
            track.changes.clear()
        return self._resolve(cam, track, now, None)

    def _resolve(self, cam: _Camera, track: _Track, now: float, why: str | None) -> AlertEvent:
        assert track.alert is not None
        alert = replace(
            track.alert,
            state=AlertState.RESOLVED,
            resolved_at=now,
            updated=now,
            reason=why or track.alert.reason,
            silenced=self._silenced(cam.info, now) is not None,
        )
        track.alert = None
        track.inactive_since = None
        self._by_id.pop(alert.id, None)
        self._refresh_open()
        return AlertEvent("resolved", alert, now)

    def _resolve_all(self, cam: _Camera, now: float, why: str) -> list[AlertEvent]:
        events = [self._resolve(cam, t, now, why) for t in cam.tracks.values() if t.alert]
        cam.tracks.clear()
        cam.obs = {}
        return events

    def forget(self, camera: str, now: float) -> list[AlertEvent]:
        """A camera left the inventory: resolve its alerts and drop its state."""
        cam = self._cams.pop(camera, None)
        return self._resolve_all(cam, now, "camera removed from the inventory") if cam else []

    def _refresh_open(self) -> None:
        # A new tuple each time: readers in other threads (metrics) see a consistent snapshot.
        self._open = tuple(
            t.alert for c in self._cams.values() for t in c.tracks.values() if t.alert
        )

    # -- queries -------------------------------------------------------------

    def alerts(self) -> tuple[Alert, ...]:
        """Open alerts (firing or acknowledged); safe to call from any thread."""
        return self._open

    def get(self, alert_id: str) -> Alert | None:
        key = self._by_id.get(alert_id)
        if key is None:
            return None
        track = self._cams[key[0]].tracks.get(key[1])
        return track.alert if track else None

    # -- lifecycle actions -----------------------------------------------------

    def ack(
        self, alert_id: str, user: str | None = None, comment: str = "", now: float | None = None
    ) -> AlertEvent:
        """Acknowledge an open alert (by the OS login name unless told)."""
        key = self._by_id.get(alert_id)
        track = self._cams[key[0]].tracks.get(key[1]) if key else None
        if track is None or track.alert is None:
            raise UnknownAlertError(alert_id)
        at = time.time() if now is None else now
        track.alert = replace(
            track.alert,
            state=AlertState.ACKNOWLEDGED,
            acked_by=user or current_user(),
            acked_at=at,
            ack_comment=comment,
            updated=at,
        )
        self._refresh_open()
        return AlertEvent("acknowledged", track.alert, at)

    def silence(
        self, silence: Silence, now: float | None = None
    ) -> tuple[Silence, list[AlertEvent]]:
        """Add a silence or maintenance window; open alerts it covers get a "silenced" event."""
        if silence.end <= silence.start:
            raise ValueError("a silence must end after it starts")
        if silence.target_kind not in ("camera", "site", "tag"):
            raise ValueError(
                f"silence target must be camera, site or tag, not {silence.target_kind!r}"
            )
        if silence.id is None:
            silence = replace(silence, id=self._last_silence_id + 1)
        assert silence.id is not None
        self._last_silence_id = max(self._last_silence_id, silence.id)
        self._silences[silence.id] = silence
        return silence, self._resync_silenced(time.time() if now is None else now)

    def unsilence(self, silence_id: int, now: float | None = None) -> list[AlertEvent]:
        """Remove a silence; raises KeyError if unknown. Covered alerts get "unsilenced"."""
        del self._silences[silence_id]
        return self._resync_silenced(time.time() if now is None else now)

    def silences(self) -> tuple[Silence, ...]:
        return tuple(self._silences.values())

    def _silenced(self, cam: CameraInfo, now: float) -> Silence | None:
        for s in self._silences.values():
            if s.start <= now < s.end and _matches(s, cam):
                return s
        return None

    def _expire_silences(self, now: float) -> list[AlertEvent]:
        expired = [i for i, s in self._silences.items() if s.end <= now]
        for i in expired:
            del self._silences[i]
        return self._resync_silenced(now) if expired or self._silences else []

    def _resync_silenced(self, now: float) -> list[AlertEvent]:
        events = []
        for cam in self._cams.values():
            for track in cam.tracks.values():
                if track.alert is None:
                    continue
                silenced = self._silenced(cam.info, now) is not None
                if silenced != track.alert.silenced:
                    track.alert = replace(track.alert, silenced=silenced, updated=now)
                    kind = "silenced" if silenced else "unsilenced"
                    events.append(AlertEvent(kind, track.alert, now))
        if events:
            self._refresh_open()
        return events

    # -- restart ------------------------------------------------------------------

    def restore(self, alerts: Iterable[Alert], silences: Iterable[Silence] = ()) -> None:
        """Reload open alerts and silences from the store after a daemon restart.

        A restored alert stays open while its condition holds and resolves after
        the clear delay otherwise, so a restart never re-notifies an outage.
        """
        for s in silences:
            if s.id is not None:
                self._silences[s.id] = s
                self._last_silence_id = max(self._last_silence_id, s.id)
        for alert in alerts:
            if alert.state is AlertState.RESOLVED:
                continue
            info = self._inventory.get(alert.camera) or CameraInfo(alert.camera, alert.site)
            cam = self._cams.get(alert.camera)
            if cam is None:
                cam = self._cams[alert.camera] = _Camera(info, resolve_specs(self._config, info))
            track = _Track(
                alert.rule,
                active=True,
                active_since=alert.started,
                obs=_Obs(True, alert.value, alert.threshold, alert.reason),
                alert=alert,
                flapping=alert.flapping,
                last_id=alert.id,
            )
            cam.tracks[alert.rule] = track
            cam.obs[alert.rule] = _HOLD
            self._by_id[alert.id] = (alert.camera, alert.rule)
        self._refresh_open()


def _matches(s: Silence, cam: CameraInfo) -> bool:
    if s.target_kind == "camera":
        return s.target == cam.name
    if s.target_kind == "site":
        return s.target == cam.site
    return s.target in cam.tags
