"""The camera's stream figures with a sparkline each, drawn as one widget (cheap to mount)."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from camwatch.state import CameraState

from .. import format as fmt

METRICS = (
    ("fps", "fps"),
    ("bitrate", "bitrate"),
    ("loss", "loss"),
    ("motion", "motion"),
    ("sharpness", "sharp"),
)
LABEL_W, VALUE_W = 8, 7


def metric_text(name: str, state: CameraState) -> str:
    st = state.stats
    if name == "fps":
        return fmt.fps(st.fps)
    if name == "bitrate":
        return fmt.bitrate(st.bitrate_bps)
    if name == "loss":
        return fmt.percent(st.loss_ratio)
    if name == "motion":
        return fmt.number(fmt.motion(state))
    sharp = fmt.sharpness(state)  # % of the baseline; none before a baseline exists
    return "-" if sharp is None else f"{sharp:.0f}%"


class MetricsPanel(Widget):
    DEFAULT_CSS = "MetricsPanel { height: 5; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.values: dict[str, str] = {}
        self.series: dict[str, list[float]] = {}

    def update(self, state: CameraState, series: dict[str, list[float]]) -> None:
        self.values = {key: metric_text(key, state) for key, _ in METRICS}
        self.series = series
        self.refresh()

    def render(self) -> Content:
        spark_w = max(0, self.size.width - LABEL_W - VALUE_W - 2)
        lines = []
        for key, label in METRICS:
            spark = fmt.sparkline(self.series.get(key, []), spark_w)
            lines.append(
                Content.assemble(
                    (label.ljust(LABEL_W), "$text-muted"),
                    self.values.get(key, "-").rjust(VALUE_W),
                    "  ",
                    (spark, "$text-primary"),
                )
            )
        return Content("\n").join(lines)
