"""One line of the fleet's own health: how often cameras are sampled, decode load, loop lag.

Hidden until the core has published a FleetHealth (an older core never does).
When CPU runs short the line says so in the theme's warning colours, with the
core's own reason, so an overload is never mistaken for a quiet night.
"""

from __future__ import annotations

from textual.widgets import Static

from camwatch.fleethealth import FleetHealth

OVERLOADED = "OVERLOADED"


def milliseconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def health_text(health: FleetHealth) -> str:
    """The line as the user reads it; figures the core did not measure are left out."""
    if health.overloaded:
        return f"{OVERLOADED}: {health.why}"
    parts = []
    if health.sample_interval_s is not None:
        # Not overloaded: the typical camera keeps its own schedule (healthy ones may
        # be sampled every 30 s by design); the median says what that comes to.
        parts.append(f"on schedule, every {health.sample_interval_s:.1f} s")
    parts.append(f"decode {health.decode_cpu_pct:.0f}% of a core")
    if health.loop_lag_p99_ms is not None:
        parts.append(f"loop lag {milliseconds(health.loop_lag_p99_ms)}")  # its p99
    if health.shards > 1:
        parts.append(f"{health.shards} shards")
    return " · ".join(parts)


class HealthLine(Static):
    """The fleet health line; `show` repaints only when the text or the overload flag changes."""

    DEFAULT_CSS = """
    HealthLine {
        display: none; height: 1; padding: 0 1;
        background: $panel; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    HealthLine.-known { display: block; }
    HealthLine.-overloaded { background: $warning; color: $text; text-style: bold; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(markup=False, **kwargs)  # type: ignore[arg-type]
        self.shown: str | None = None  # an overload's text says OVERLOADED: the text is enough
        self.paints = 0  # how often the line changed (tests)

    def show(self, health: FleetHealth | None) -> None:
        if health is None:
            return
        text = health_text(health)
        if self.shown == text:
            return
        self.shown = text
        self.paints += 1
        self.set_class(health.overloaded, "-overloaded")
        self.add_class("-known")
        # Truncated at 80 columns: the full reason stays a hover away, and in the toast.
        self.tooltip = text
        self.update(text)
