"""How a camera or alert reads on screen: word + symbol + colour level, and compact figures.

The meaning is always in the word and the symbol; the colour level only
reinforces it (camwatch-mono shows every level in greys).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from camwatch.alerts.model import Alert, AlertState
from camwatch.redact import redact_text
from camwatch.state import CameraState, Severity, Status

BARS = "▁▂▃▄▅▆▇█"
MOTION_KINDS = ("motion",)
SHARPNESS_KINDS = ("sharpness", "defocus", "focus")


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


def look(state: CameraState) -> Look:
    if state.status in _FAILED_WORDS:
        return Look(_FAILED_WORDS[state.status], "✖", Level.BAD, 0)
    if state.status is Status.STOPPED:
        return STOPPED
    if state.status is Status.CONNECTING:
        return CONNECTING
    active = state.active_conditions()
    if any(c.severity is Severity.CRITICAL for c in active):
        return CRITICAL
    if active:
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


def why(state: CameraState) -> str:
    """The short reason a camera is not simply live: firing conditions or the failure."""
    active = state.active_conditions()
    if active:
        return ", ".join(c.kind.replace("_", " ") for c in active)
    if state.status is not Status.LIVE and state.reason:
        return redact_text(state.reason)
    return ""


def condition_value(state: CameraState, kinds: tuple[str, ...]) -> float | None:
    for c in state.conditions:
        if c.kind in kinds and c.value is not None:
            return c.value
    return None


def motion(state: CameraState) -> float | None:
    return condition_value(state, MOTION_KINDS)


def sharpness(state: CameraState) -> float | None:
    return condition_value(state, SHARPNESS_KINDS)


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
