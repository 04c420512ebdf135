"""Small modal dialogs: acknowledge with a comment, silence for a duration, confirm."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from camwatch.alerts.model import Alert
from camwatch.redact import redact_text

from .. import format as fmt

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; max-width: 100%; height: auto; max-height: 100%;
    border: round $primary; background: $surface; padding: 0 1;
}}
{name} Label {{ margin-top: 1; }}
{name} .hint {{ color: $text-muted; margin-top: 1; }}
{name} .error {{ color: $text-error; height: auto; }}
"""


def parse_duration(text: str) -> float:
    """ "90m", "2h", "1h30m", "1d", "45s" to seconds. ValueError with the accepted forms."""
    s = text.strip().lower().replace(" ", "")
    if s.isdigit():
        return float(s) * 60  # a bare number means minutes, the usual silence unit
    parts = _DURATION.findall(s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise ValueError(f"cannot read duration {text!r}: use e.g. 30m, 2h, 1h30m, 1d")
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    target_kind: str
    target: str
    duration_s: float
    reason: str


class AckDialog(ModalScreen[str | None]):
    """Acknowledge one alert; returns the comment (possibly empty) or None if cancelled."""

    DEFAULT_CSS = DIALOG_CSS.format(name="AckDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        a = self.alert
        look = fmt.severity_look(a.severity)
        with Vertical() as box:
            box.border_title = "Acknowledge"
            yield Static(
                f"{look.label}  {a.camera} · {a.rule}\n{redact_text(a.reason)}", markup=False
            )
            yield Label("Comment (optional)")
            yield Input(id="comment", placeholder="e.g. contractor called, ticket 4711")
            yield Static("enter acknowledges · esc cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class SilenceDialog(ModalScreen[SilenceRequest | None]):
    """Silence a camera, its site or one of its tags for a duration."""

    DEFAULT_CSS = DIALOG_CSS.format(name="SilenceDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, camera: str, site: str = "", tags: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.targets: list[tuple[str, str]] = [("camera", camera)]
        if site:
            self.targets.append(("site", site))
        self.targets.extend(("tag", t) for t in tags)

    def compose(self) -> ComposeResult:
        options = [(f"{kind}: {target}", i) for i, (kind, target) in enumerate(self.targets)]
        with Vertical() as box:
            box.border_title = "Silence notifications"
            yield Label("Target")
            yield Select(options, value=0, allow_blank=False, id="target", compact=True)
            yield Label("For how long (30m, 2h, 1d)")
            yield Input("1h", id="duration")
            yield Label("Reason")
            yield Input(id="reason", placeholder="e.g. maintenance on the mast")
            yield Static("", classes="error", id="error")
            yield Static("enter in Reason silences · esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#duration", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "duration":
            self.query_one("#reason", Input).focus()
            return
        self.submit()

    def submit(self) -> None:
        error = self.query_one("#error", Static)
        try:
            seconds = parse_duration(self.query_one("#duration", Input).value)
        except ValueError as exc:
            error.update(str(exc))
            self.query_one("#duration", Input).focus()
            return
        if seconds <= 0:
            error.update("the duration must be more than zero")
            return
        index = self.query_one("#target", Select).value
        kind, target = self.targets[index if isinstance(index, int) else 0]
        reason = self.query_one("#reason", Input).value.strip()
        self.dismiss(SilenceRequest(kind, target, seconds, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.question, markup=False)
            yield Static("y / enter: yes · n / esc: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
