"""What the fleet, alert and camera screens share: the `/` filter box in the top bar, and the
acknowledge and silence dialogs with what their answers do."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Input, Static

from camwatch.alerts.model import Alert

from .query import Query, QueryError, parse_query
from .screens.base import DataScreen
from .screens.dialogs import AckDialog, SilenceDialog, SilenceRequest
from .widgets.status_table import StatusTable

# Each screen lists these in its own BINDINGS: Textual merges BINDINGS from DOM classes
# base first, and the order there is the order of the key bar.
FILTER_BINDING = Binding("slash", "filter", "Filter")
ACK_BINDING = Binding("a", "ack", "Ack")
SILENCE_BINDING = Binding("s", "silence", "Silence")

TOPBAR_CSS = """
{name} #topbar {{ height: 1; background: $panel; padding: 0 1; }}
{name} #counts {{ width: 1fr; }}
{name} #view {{ width: auto; color: $text-muted; margin-left: 2; }}
{name} #filter {{ width: 2fr; max-width: 60; display: none; background: $surface; }}
{name} #filter.-shown {{ display: block; }}
"""


class FilteredScreen(DataScreen):
    """A screen with a top bar (counts, view, the filter box shown by `/`) over a table.

    Subclasses set FILTER_FIELDS, define `_changed_view` (re-query and redraw) and may
    override `_focus_main` when the table is not the widget to return to.
    """

    FILTER_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.query_text = Query()
        self._shown_text: dict[str, Content | str] = {}

    def top_bar(self, placeholder: str) -> Horizontal:
        # The filter box lives in the top bar: showing it re-lays out one line, not the
        # (maybe 1000-row) table under it.
        return Horizontal(
            Static(id="counts", markup=False),
            Input(id="filter", compact=True, placeholder=placeholder),
            Static(id="view", markup=False),
            id="topbar",
        )

    @property
    def filter_box(self) -> Input:
        return self.query_one("#filter", Input)

    def _changed_view(self) -> None:
        """The filter changed: rebuild the rows shown."""

    def _focus_main(self) -> None:
        self.query_one(StatusTable).focus()

    def _set_text(self, selector: str, content: Content | str) -> None:
        # Static.update re-lays out the top bar (its width is auto): only when it changed.
        if self._shown_text.get(selector) != content:
            self._shown_text[selector] = content
            self.query_one(selector, Static).update(content)

    def clear_filter(self) -> bool:
        """Hide and empty the filter box and forget the query; True if there was a filter."""
        box = self.filter_box
        had_filter = bool(self.query_text) or box.has_class("-shown")
        box.remove_class("-shown")
        if box.value:
            box.value = ""
        self.query_text = Query()
        return had_filter

    def action_filter(self) -> None:
        box = self.filter_box
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            query = parse_query(event.value, self.FILTER_FIELDS)
        except QueryError as exc:
            self._set_text("#view", Content.styled(str(exc), "$text-error"))
            return
        if query != self.query_text:
            self.query_text = query
            self._changed_view()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
        self._focus_main()


def ask_ack(screen: DataScreen, alert: Alert) -> None:
    """Ask for a comment and acknowledge `alert` with it, unless the dialog is cancelled."""

    def done(comment: str | None) -> None:
        if comment is not None:
            screen.cw.acknowledge(alert.id, comment)

    screen.app.push_screen(AckDialog(alert), done)


def ask_silence(screen: DataScreen, camera: str, site: str, tags: tuple[str, ...]) -> None:
    """Ask what to silence (the camera, its site or a tag) and for how long, then do it."""

    def done(request: SilenceRequest | None) -> None:
        if request is not None:
            screen.cw.silence(request)

    screen.app.push_screen(SilenceDialog(camera, site, tags), done)
