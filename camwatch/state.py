"""Immutable values that describe a camera: what front ends subscribe to.

Everything here is a frozen dataclass so a state can be handed to any number
of subscribers (TUI, notifiers, store, a remote bus) without copying or locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    OFFLINE = "offline"
    AUTH_FAILED = "auth_failed"
    NOT_FOUND = "not_found"
    UNSUPPORTED = "unsupported"
    STOPPED = "stopped"

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_FAILURES = frozenset(
    {Status.STALLED, Status.OFFLINE, Status.AUTH_FAILED, Status.NOT_FOUND, Status.UNSUPPORTED}
)


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the camera says it sends (SDP + SPS)."""

    codec: str  # "h264" | "h265"
    payload_type: int
    clock_rate: int
    profile: str | None = None
    level: str | None = None
    width: int | None = None
    height: int | None = None
    transport: str = "tcp"


# The image conditions the analyzers report (camwatch.analysis) and the rule
# engine alerts on (camwatch.alerts.rules), in the analyzers' report order.
IMAGE_CONDITION_KINDS: tuple[str, ...] = (
    "black",
    "low_light",
    "overexposed",
    "low_contrast",
    "color_cast",
    "covered",
    "noise",
    "defocus",
    "frozen",
    "moved",
)


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Sliding-window statistics of one RTP stream (see camwatch.stats)."""

    packets_received: int = 0
    packets_lost: int = 0
    loss_ratio: float = 0.0
    jitter_ms: float = 0.0  # RFC 3550, per packet (what RTCP receiver reports carry)
    fps: float = 0.0
    bitrate_bps: float = 0.0
    gop_s: float | None = None
    since_last_packet_s: float | None = None
    since_last_frame_s: float | None = None
    first_frame_ms: float | None = None
    clock_drift_ppm: float | None = None
    frames: int = 0
    keyframes: int = 0
    frames_dropped: int = 0
    bytes_received: int = 0
    frame_jitter_ms: float = 0.0  # the same filter over frames: what the jitter rule judges


@dataclass(frozen=True, slots=True)
class DecodeStats:
    keyframes_decoded: int = 0
    decode_errors: int = 0
    samples_skipped: int = 0  # keyframes not decoded because the worker pool was busy
    last_decode_ms: float | None = None
    guard_trips: int = 0  # frame sizes changed while sampled rarely (sizeguard.py)


@dataclass(frozen=True, slots=True)
class Condition:
    """One health finding: a stream or image check with its evidence."""

    kind: str  # e.g. "packet_loss", "frozen", "black"
    active: bool
    value: float | None = None
    threshold: float | None = None
    reason: str = ""
    severity: Severity = Severity.WARNING


@dataclass(frozen=True, slots=True)
class CameraState:
    name: str
    url: str  # always redacted
    site: str = ""
    tags: tuple[str, ...] = ()
    status: Status = Status.CONNECTING
    reason: str = ""
    since: float = field(default_factory=time.time)  # wall time the status began
    info: StreamInfo | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    decode: DecodeStats = field(default_factory=DecodeStats)
    conditions: tuple[Condition, ...] = ()
    motion_level: float | None = None  # 0-100, from the last analysed frame
    analysis: object | None = None  # camwatch.analysis AnalysisResult of the last frame
    last_frame_at: float | None = None  # wall time of the last analysed frame
    reconnects: int = 0
    updated: float = field(default_factory=time.time)

    def active_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.active)


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """Event: a camera moved from one status to another."""

    camera: str
    old: Status
    new: Status
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class FrameSample:
    """A decoded, downscaled keyframe handed to analyzers and thumbnails.

    gray is uint8 HxW, rgb is uint8 HxWx3 (both already privacy-masked once
    analysis exists). pts_s is the RTP time in seconds; at is local wall time.
    """

    camera: str
    at: float
    pts_s: float
    gray: object  # numpy.ndarray; typed loosely so importing state stays cheap
    rgb: object | None = None


Event = StatusChanged
