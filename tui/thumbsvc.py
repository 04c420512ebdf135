"""Thumbnails for the TUI: privacy mode, colour depth, fetching and the view audit.

The service never blocks: `Control.thumbnail` returns a cached frame, and a
failing control only means "no image". With the mode "off" it never asks
for a frame at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from camwatch.control import Control
from camwatch.state import FrameSample
from camwatch.thumbs import Cells, Depth, pixelate, render_cells

log = logging.getLogger(__name__)


class ThumbMode(StrEnum):
    ON = "on"
    OFF = "off"
    PIXELATE = "pixelate"


def parse_mode(value: str) -> ThumbMode:
    try:
        return ThumbMode(value.strip().lower())
    except ValueError:
        valid = ", ".join(m.value for m in ThumbMode)
        raise ValueError(f"unknown thumbnails setting {value!r}: choose one of {valid}") from None


@dataclass
class ThumbService:
    control: Control
    mode: ThumbMode
    depth: Depth
    user: str
    pixel_blocks: int = 12
    interval: float = 3.0
    views: int = field(default=0, init=False)

    @property
    def enabled(self) -> bool:
        return self.mode is not ThumbMode.OFF

    def fetch(self, camera: str) -> FrameSample | None:
        if not self.enabled:
            return None
        try:
            sample = self.control.thumbnail(camera)
        except Exception:  # a broken core must not take the screen down
            log.exception("thumbnail(%s) failed", camera)
            return None
        return sample if sample is not None and sample.rgb is not None else None

    def privacy_image(self, sample: FrameSample) -> np.ndarray:
        """The frame's RGB as the privacy mode allows it to be shown (mosaic if pixelate)."""
        rgb = np.asarray(sample.rgb)
        return pixelate(rgb, self.pixel_blocks) if self.mode is ThumbMode.PIXELATE else rgb

    def render(self, sample: FrameSample, width: int, height: int) -> Cells | None:
        blocks = self.pixel_blocks if self.mode is ThumbMode.PIXELATE else None
        try:
            return render_cells(sample.rgb, width, height, self.depth, pixelate_blocks=blocks)
        except ValueError:
            log.warning("unusable thumbnail for %s", sample.camera)
            return None

    def record_view(self, camera: str) -> None:
        self.views += 1
        try:
            self.control.record_view(camera, self.user)
        except Exception:
            log.exception("record_view(%s) failed", camera)
