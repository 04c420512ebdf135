"""Alert values shared by the rule engine, the store, notifiers and front ends."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..state import Severity


class AlertState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: a rule that holds for a camera, from raise to resolve.

    `id` is stable for the alert's life (camera:rule:started). Silenced alerts
    are recorded like any other; only their notifications are suppressed.
    """

    id: str
    camera: str
    rule: str
    severity: Severity
    state: AlertState
    reason: str
    started: float  # wall time the condition began (before the raise delay)
    raised: float  # wall time the alert fired
    updated: float
    site: str = ""
    value: float | None = None
    threshold: float | None = None
    resolved_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    ack_comment: str | None = None
    silenced: bool = False
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """Published on the bus whenever an alert is raised, changes or resolves."""

    kind: str  # "raised" | "acknowledged" | "resolved" | "silenced" | "flapping"
    alert: Alert
    at: float


@dataclass(frozen=True, slots=True)
class Silence:
    """A silence or maintenance window: matches a camera, a site or a tag."""

    id: int | None
    target_kind: str  # "camera" | "site" | "tag"
    target: str
    start: float
    end: float
    reason: str
    author: str
    maintenance: bool = False  # maintenance windows also count as excluded time in reports
