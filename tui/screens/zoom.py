"""`z` on a camera: its frame in real pixels (kitty or sixel), where the terminal can.

Textual draws cells, not pixels, so this screen leaves an empty area and
writes the image's escape sequence straight to the terminal over it after
each refresh. Leaving the screen repaints the cells (erasing sixel pixels)
and deletes the kitty image, which lives on its own layer.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from camwatch.pixels import Pixels, enlarge, kitty, kitty_delete, sixel

from ..widgets.keybar import KeyBar

CELL_PX = (8, 16)  # smallest usual cell size: a sixel image sized for it always fits


def fit_cells(width: int, height: int, cols: int, rows: int) -> tuple[int, int]:
    """The largest cols x rows box with the image's aspect (a cell is twice as tall
    as wide) that fits in the area."""
    if cols <= 0 or rows <= 0:
        return 0, 0
    c = min(cols, max(1, round(rows * 2 * width / height)))
    r = min(rows, max(1, round(c * height / (2 * width))))
    return c, r


def zoom_sequence(image: np.ndarray, protocol: Pixels, cols: int, rows: int) -> tuple[str, int]:
    """(escape sequence, width in cells) showing the image in a cols x rows area."""
    h, w = image.shape[:2]
    if protocol is Pixels.KITTY:
        c, r = fit_cells(w, h, cols, rows)
        return kitty(image, c, r), c
    factor = max(1, min(cols * CELL_PX[0] // w, rows * CELL_PX[1] // h))
    return sixel(enlarge(image, factor)), -(-w * factor // CELL_PX[0])


class ZoomScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ZoomScreen { background: $background; }
    ZoomScreen #caption { height: 1; background: $panel; padding: 0 1; }
    ZoomScreen #area { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,z", "close", "Close"),
    ]

    def __init__(self, camera: str, image: np.ndarray, protocol: Pixels) -> None:
        super().__init__()
        self.camera = camera
        self.image = image
        self.protocol = protocol
        self.written = ""  # the last sequence sent to the terminal (tests, bench)
        self.bytes_sent = 0

    def compose(self) -> ComposeResult:
        h, w = self.image.shape[:2]
        yield Static(
            f"{self.camera} · {w}x{h} pixels via {self.protocol.value} · esc to close",
            id="caption",
            markup=False,
        )
        yield Widget(id="area")
        yield KeyBar()

    def on_resize(self) -> None:
        self.call_after_refresh(self.draw)

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.draw)

    def draw(self) -> None:
        area = self.query_one("#area").region
        if not self.is_current or area.width <= 0 or area.height <= 0:
            return
        # Encoding a sixel image takes 100+ ms: off the event loop, so keys still answer.
        self.run_worker(
            partial(self._encode, area), thread=True, exclusive=True, exit_on_error=False
        )

    def _encode(self, area: Region) -> None:
        sequence, used = zoom_sequence(self.image, self.protocol, area.width, area.height)
        x = area.x + max(0, (area.width - used) // 2)
        # Save the cursor, draw at the area's top-left, restore: Textual's own output
        # keeps positioning itself.
        text = f"\x1b7\x1b[{area.y + 1};{x + 1}H{sequence}\x1b8"
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        if not self.is_current:
            return
        self.written = text
        self.bytes_sent += len(text.encode())
        self._write(text)

    def action_close(self) -> None:
        if self.protocol is Pixels.KITTY:
            self._write(kitty_delete())
        self.dismiss()

    def _write(self, data: str) -> None:
        driver = getattr(self.app, "_driver", None)  # Textual has no public raw-output API
        if driver is not None:
            driver.write(data)
            driver.flush()
