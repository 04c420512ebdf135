"""Keyframe decoding with PyAV, off the event loop.

Only keyframes are decoded (`skip_frame='NONKEY'`), with slice threads: FRAME
or AUTO threading delays output and hangs when the decoder is freed in
PyAV >= 17. Frames are scaled by FFmpeg's swscale (`reformat`), which is far
cheaper than resizing in numpy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

CODEC_NAMES = {"h264": "h264", "h265": "hevc"}


class DecodeError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Decoded:
    gray: np.ndarray  # uint8 HxW
    rgb: np.ndarray  # uint8 hxwx3
    width: int  # source picture size
    height: int
    decode_ms: float


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Keep the aspect ratio; even dimensions (swscale and chroma like them)."""
    w = min(target_width, width)
    h = max(2, round(w * height / width / 2) * 2)
    return w, h


class KeyframeDecoder:
    """One camera's decoder. Not thread-safe: one decode at a time."""

    def __init__(self, codec: str, gray_width: int = 320, rgb_width: int = 160) -> None:
        if codec not in CODEC_NAMES:
            raise DecodeError(f"unsupported codec {codec!r}")
        ctx = av.CodecContext.create(CODEC_NAMES[codec], "r")
        ctx.thread_type = "SLICE"
        ctx.thread_count = 1
        ctx.skip_frame = "NONKEY"
        self._ctx = ctx
        self.gray_width = gray_width
        self.rgb_width = rgb_width

    def decode(self, access_unit: bytes) -> Decoded:
        t0 = time.perf_counter()
        try:
            frames = self._ctx.decode(av.Packet(access_unit))
            if not frames:
                # A decoder with reorder delay holds the picture: drain it.
                frames = self._ctx.decode(None)
                self._ctx.flush_buffers()
        except av.FFmpegError as exc:
            self._ctx.flush_buffers()
            raise DecodeError(str(exc)) from None
        if not frames:
            raise DecodeError("keyframe produced no picture")
        frame = frames[-1]
        gw, gh = scaled_size(frame.width, frame.height, self.gray_width)
        rw, rh = scaled_size(frame.width, frame.height, self.rgb_width)
        gray = frame.reformat(gw, gh, format="gray", interpolation="AREA").to_ndarray()
        rgb = frame.reformat(rw, rh, format="rgb24", interpolation="AREA").to_ndarray()
        ms = (time.perf_counter() - t0) * 1000
        return Decoded(np.ascontiguousarray(gray), rgb, frame.width, frame.height, ms)

    def close(self) -> None:
        self._ctx = None  # type: ignore[assignment]


class DecodePool:
    """A bounded pool of decode threads shared by all cameras.

    Decoding releases the GIL, so threads use both cores. A camera has at most
    one job in flight and the pool at most `max_pending` queued jobs: when CPU
    runs short, keyframes are skipped (and counted) rather than queued.
    """

    def __init__(self, workers: int = 2, max_pending: int | None = None) -> None:
        self.workers = workers
        self.max_pending = max_pending if max_pending is not None else workers * 4
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="camwatch-decode")
        self.pending = 0
        self.completed = 0
        self.rejected = 0

    def try_submit(self, fn: Callable[[], Any]) -> asyncio.Future | None:
        if self.pending >= self.max_pending:
            self.rejected += 1
            return None
        self.pending += 1
        fut = asyncio.get_running_loop().run_in_executor(self._executor, fn)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, _fut: asyncio.Future) -> None:
        self.pending -= 1
        self.completed += 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
