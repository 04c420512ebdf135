"""What every camwatch screen shares: access to the app's models and a data refresh hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen
from textual.widgets import Static

if TYPE_CHECKING:
    from ..app import CamwatchApp


class DataScreen(Screen):
    """A screen fed by the app's coalesced updates while it is the active one."""

    @property
    def cw(self) -> CamwatchApp:
        return cast("CamwatchApp", self.app)

    def refresh_data(self, changed: set[str], alerts_changed: bool) -> None:
        """New data: `changed` cameras changed state; alerts changed if the flag is set."""

    def on_screen_resume(self) -> None:
        # Updates go to the active screen only: catch up with everything missed.
        self.refresh_data(set(self.cw.fleet.states), True)


class TopBar(Static):
    DEFAULT_CSS = """
    TopBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """
