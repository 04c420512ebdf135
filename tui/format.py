"""How a camera or alert reads on screen: word + symbol + colour level, and compact figures.

The meaning is always in the word and the symbol; the colour level only
reinforces it (camwatch-mono shows every level in greys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from camwatch.alerts.model import Alert, AlertState
from camwatch.redact import redact_text
from camwatch.state import CameraState, Severity, Status

BARS = "▁▂▃▄▅▆▇█"
MOTION_KINDS = ("motion",)
SHARPNESS_KINDS = ("sharpness", "defocus", "focus")
LOSS_WARN = 0.02  # the default packet_loss rule threshold


# (rule, severity) of a camera's open stream-rule alerts (packet_loss, jitter, low_fps...):
# judged by the rule engine from the statistics, so not conditions of the camera's state.
RuleAlerts = Sequence[tuple[str, Severity]]


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Look:
    word: str
    symbol: str
    level: Level
    rank: int  # 0 is the worst: sorting by rank puts the sick cameras on top

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.word}"


_FAILED_WORDS = {
    Status.STALLED: "stalled",
    Status.OFFLINE: "offline",
    Status.AUTH_FAILED: "auth failed",
    Status.NOT_FOUND: "not found",
    Status.UNSUPPORTED: "unsupported",
}
LIVE = Look("live", "●", Level.OK, 4)
WARNING = Look("warning", "▲", Level.WARN, 2)
CRITICAL = Look("critical", "◆", Level.BAD, 1)
CONNECTING = Look("connecting", "◌", Level.IDLE, 3)
STOPPED = Look("stopped", "○", Level.IDLE, 5)
STATE_WORDS = ("live", "warning", "critical", "connecting", "stopped", *_FAILED_WORDS.values())
LEGEND = (
    LIVE,
    WARNING,
    CRITICAL,
    Look("offline", "✖", Level.BAD, 0),
    CONNECTING,
    STOPPED,
)


def look(state: CameraState, alerts: RuleAlerts = ()) -> Look:
    """The state word: the status, or for a live camera its worst active condition or
    open stream-rule alert (`alerts`), each reading as warning or critical by severity."""
    if state.status in _FAILED_WORDS:
        return Look(_FAILED_WORDS[state.status], "✖", Level.BAD, 0)
    if state.status is Status.STOPPED:
        return STOPPED
    if state.status is Status.CONNECTING:
        return CONNECTING
    active = state.active_conditions()
    alerted = [severity for _, severity in alerts if severity is not Severity.OK]
    if Severity.CRITICAL in alerted or any(c.severity is Severity.CRITICAL for c in active):
        return CRITICAL
    if active or alerted:
        return WARNING
    return LIVE


def severity_look(severity: Severity) -> Look:
    if severity is Severity.CRITICAL:
        return CRITICAL
    if severity is Severity.WARNING:
        return WARNING
    return Look("ok", "●", Level.OK, 4)


def alert_state_word(alert: Alert) -> str:
    if alert.state is AlertState.RESOLVED:
        return "resolved"
    if alert.state is AlertState.ACKNOWLEDGED:
        return "acked"
    if alert.silenced:
        return "silenced"
    if alert.flapping:
        return "flapping"
    return "firing"


def why(state: CameraState, alerts: RuleAlerts = ()) -> str:
    """The short reason a camera is not simply live: firing conditions and open
    stream-rule alerts, or the failure."""
    kinds = [c.kind for c in state.active_conditions()]
    if state.status is Status.LIVE:  # a failed camera's reason says more than its old alerts
        kinds += [r for r, sev in alerts if sev is not Severity.OK and r not in kinds]
    if kinds:
        return ", ".join(k.replace("_", " ") for k in kinds)
    if state.status is not Status.LIVE and state.reason:
        return redact_text(state.reason)
    return ""


def condition_value(state: CameraState, kinds: tuple[str, ...]) -> float | None:
    for c in state.conditions:
        if c.kind in kinds and c.value is not None:
            return c.value
    return None


def motion(state: CameraState) -> float | None:
    """Motion 0-100 from the last analysed frame (a "motion" condition as a fallback)."""
    if state.motion_level is not None:
        return state.motion_level
    return condition_value(state, MOTION_KINDS)


def sharpness(state: CameraState) -> float | None:
    """Sharpness as % of the camera's baseline; None until a baseline exists.

    Read with getattr: in a viewer attached to a daemon the analysis result is a
    read-only copy that has only the fields that travel.
    """
    pct = getattr(state.analysis, "sharpness_pct", None)
    if isinstance(pct, int | float) and not isinstance(pct, bool):
        return float(pct)
    return condition_value(state, SHARPNESS_KINDS)


def lossy(state: CameraState) -> bool:
    """Packet loss worth a colour: above the rule engine's default, or a loss condition."""
    if state.stats.loss_ratio > LOSS_WARN:
        return True
    return any("loss" in c.kind for c in state.active_conditions())


# How each image check compares its value with its limit (firing side), and its unit.
CHECK_LIMITS: dict[str, tuple[str, str]] = {
    "black": ("<", ""),
    "low_light": ("<", ""),
    "overexposed": (">", "%"),
    "low_contrast": ("<", ""),
    "color_cast": (">", ""),
    "covered": ("<", "%"),
    "noise": (">", ""),
    "defocus": ("<", "%"),
    "frozen": ("≥", "%"),
    "moved": ("<", "%"),
}


def check_value(kind: str, value: float | None) -> str:
    unit = CHECK_LIMITS.get(kind, ("", ""))[1]
    return "-" if value is None else number(value) + unit


def check_limit(kind: str, threshold: float | None) -> str:
    op, unit = CHECK_LIMITS.get(kind, ("", ""))
    if threshold is None:
        return "-"
    return f"{op} {number(threshold)}{unit}" if op else number(threshold)


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def bitrate(bps: float) -> str:
    if bps < 1:
        return "0"
    if bps < 1e6:
        return f"{bps / 1e3:.0f}k"
    if bps < 1e7:
        return f"{bps / 1e6:.1f}M"
    return f"{bps / 1e6:.0f}M"


def fps(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def percent(ratio: float) -> str:
    pct = ratio * 100
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


def level_bar(value: float, top: float = 100.0) -> str:
    i = int(max(0.0, min(value, top)) / top * (len(BARS) - 1))
    return BARS[i]


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def sparkline(values: list[float], width: int) -> str:
    """The last `width` values as bar characters between their min and max.

    A flat series draws a flat middle line rather than full bars, so a steady
    25 fps does not look like a maximum.
    """
    if width <= 0 or len(values) < 2:
        return ""
    tail = values[-width:]
    low, high = min(tail), max(tail)
    if high - low < 1e-9:
        return BARS[3] * len(tail)
    scale = (len(BARS) - 1) / (high - low)
    return "".join(BARS[int((v - low) * scale)] for v in tail)
