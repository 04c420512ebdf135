"""Command palette entries (ctrl+p or `:`): screens, fleet views, and every camera by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import CamwatchApp

Command = tuple[str, Callable[[], object], str]


class CamwatchCommands(Provider):
    @property
    def cw(self) -> CamwatchApp:
        return cast("CamwatchApp", self.app)

    def _general(self) -> Iterator[Command]:
        from .screens.fleet import COLUMNS

        app = self.cw
        yield ("Fleet", partial(app.switch_mode, "fleet"), "every camera and its state")
        yield ("Alerts", partial(app.switch_mode, "alerts"), "the live alert feed")
        yield ("Alert history", app.show_history, "recent alerts from the store")
        yield ("Fleet: filter", partial(app.fleet_do, "filter"), "filter by name, site, tag, state")
        yield ("Fleet: group by site", partial(app.fleet_do, "group"), "toggle site groups")
        yield ("Fleet: tiles", partial(app.fleet_do, "tiles"), "toggle thumbnail tiles")
        for col in COLUMNS:
            yield (
                f"Fleet: sort by {col.label.lower()}",
                partial(app.fleet_sort, col.key),
                "worst first; S reverses",
            )

    def _cameras(self) -> Iterator[Command]:
        app = self.cw
        for name in sorted(app.fleet.states):
            yield (f"Open camera {name}", partial(app.open_camera, name), "camera details")

    async def discover(self) -> Hits:
        for text, callback, help_text in self._general():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for commands in (self._general(), self._cameras()):
            for text, callback, help_text in commands:
                score = matcher.match(text)
                if score > 0:
                    yield Hit(score, matcher.highlight(text), callback, help=help_text)
