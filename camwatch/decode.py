"""Keyframe decoding with PyAV, off the event loop, shared fairly by a fleet.

Only keyframes are decoded (`skip_frame='NONKEY'`), with slice threads: FRAME
or AUTO threading delays output and hangs when the decoder is freed in
PyAV >= 17. Frames are scaled by FFmpeg's swscale (`reformat`), which is far
cheaper than resizing in numpy.

The pool schedules one camera's keyframes against everyone else's: each
camera has at most one job waiting (a newer keyframe replaces it) and one
running, and a free worker takes the camera that has waited longest since its
last sample. Cameras that all send keyframes at the same moment (a fleet
started together) are then served in turn instead of the first few every
time. An optional budget caps the CPU the decode threads may use (in cores),
so that when CPU runs short every camera is still sampled, less often, and
the event loop keeps its share; the pool's figures say how far behind it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

CODEC_NAMES = {"h264": "h264", "h265": "hevc"}
DECODE_NICE = 10  # decode threads' niceness above the process's (see _lower_priority)
LOOP_LATE = 0.08  # s without a loop beat (probe period 0.05 s + slack): the loop is late
YIELD_MAX = 0.25  # s a job waits at most for a late loop
YIELD_STEP = 0.005
_FLAG2_FAST = 1  # AV_CODEC_FLAG2_FAST (PyAV 18 takes flags2 as an int)


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
    """A keyframe decoder. Not thread-safe: one decode at a time.

    Keyframes carry their parameter sets (the depacketizer inserts them), so
    one decoder can serve many cameras in turn; each IDR resets its state.
    """

    def __init__(
        self,
        codec: str,
        gray_width: int = 320,
        rgb_width: int = 160,
        *,
        skip_loop_filter: bool = False,
        fast: bool = False,
    ) -> None:
        """skip_loop_filter: no deblocking (AVDISCARD_ALL); fast: AV_CODEC_FLAG2_FAST.
        Both trade picture fidelity for speed (see bench/RESULTS.md for what they buy)."""
        if codec not in CODEC_NAMES:
            raise DecodeError(f"unsupported codec {codec!r}")
        ctx = av.CodecContext.create(CODEC_NAMES[codec], "r")
        ctx.thread_type = "SLICE"
        ctx.thread_count = 1
        ctx.skip_frame = "NONKEY"
        if skip_loop_filter:
            ctx.options = {"skip_loop_filter": "all"}  # applied when the codec opens
        if fast:
            ctx.flags2 = ctx.flags2 | _FLAG2_FAST
        self._ctx = ctx
        self.gray_width = gray_width
        self.rgb_width = rgb_width
        # One scaler per output, kept across frames: a frame's own reformat()
        # builds a new swscale context (and, by default, a thread pool) per
        # call, which cost more than decoding the keyframe.
        self._to_gray = VideoReformatter()
        self._to_rgb = VideoReformatter()

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
        gray = self._to_gray.reformat(
            frame, gw, gh, format="gray", interpolation="AREA", threads=1
        ).to_ndarray()
        rgb = self._to_rgb.reformat(
            frame, rw, rh, format="rgb24", interpolation="AREA", threads=1
        ).to_ndarray()
        ms = (time.perf_counter() - t0) * 1000
        return Decoded(np.ascontiguousarray(gray), rgb, frame.width, frame.height, ms)

    def close(self) -> None:
        self._ctx = None  # type: ignore[assignment]


class Decoders:
    """The decoders one worker thread keeps, shared by the cameras it serves.

    A decoder holds about 1.5 MB of picture buffers at 360p: one per camera
    would cost a fleet of 1000 cameras 1.5 GB, while one per worker and
    stream kind costs a few MB. Keyed by codec, source size and output sizes
    (FFmpeg re-allocates on a size change), least recently used dropped.
    """

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._cache: OrderedDict[tuple[Any, ...], KeyframeDecoder] = OrderedDict()

    def get(
        self, codec: str, gray_width: int, rgb_width: int, size: tuple[int, int] | None = None
    ) -> KeyframeDecoder:
        key = (codec, gray_width, rgb_width, size)
        dec = self._cache.get(key)
        if dec is None:
            dec = KeyframeDecoder(codec, gray_width, rgb_width)
            self._cache[key] = dec
            while len(self._cache) > self.limit:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return dec

    def clear(self) -> None:
        self._cache.clear()


# A job receives its worker's decoders; try_submit's jobs take no argument.
Job = Callable[[Decoders], Any]


@dataclass(slots=True)
class _Waiting:
    fn: Job
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    offered: float


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """Cumulative counters and current state of a DecodePool (monotonic counts)."""

    completed: int
    failed: int
    superseded: int  # jobs replaced by a newer keyframe of the same camera before they ran
    rejected: int  # try_submit() calls refused because max_pending was reached
    waiting: int
    running: int
    cpu_s: float  # thread CPU spent in jobs
    throttled_s: float  # worker time spent waiting for the budget
    wait_s: float  # summed time jobs waited from offer to start
    budget: float | None  # cores; None: unlimited


class DecodePool:
    """A bounded pool of decode threads shared by all cameras.

    Decoding releases the GIL, so threads use every core. `offer(key, job)`
    is the fleet's path: at most one waiting job per key (a newer one
    supersedes it, and is counted), never two running for one key, and the
    longest-unserved key first. `try_submit(fn)` is a plain bounded FIFO
    (`max_pending` queued at most, beyond that refused and counted).

    `budget` (cores, e.g. 1.0) caps the CPU the workers spend in jobs over
    time: a worker waits before its next job while the pool is in debt.
    """

    def __init__(
        self, workers: int = 2, max_pending: int | None = None, *, budget: float | None = None
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if budget is not None and budget <= 0:
            raise ValueError(f"budget must be a positive number of cores, got {budget}")
        self.workers = workers
        self.max_pending = max_pending if max_pending is not None else workers * 4
        self.budget = budget
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._waiting: dict[Hashable, _Waiting] = {}
        self._running: set[Hashable] = set()
        self._blocked: set[Hashable] = set()  # waiting while their previous job runs
        self._seq = itertools.count()
        self._fifo = 0  # try_submit jobs not finished
        self._closed = False
        self._credit = budget or 0.0
        self._refilled = time.monotonic()
        # Monotonic time the event loop last showed it was keeping up (set by
        # the fleet's lag probe); 0: unknown, never wait for it.
        self.loop_beat = 0.0
        self.completed = self.failed = self.superseded = self.rejected = 0
        self.cpu_s = self.throttled_s = self.wait_s = 0.0
        self._threads = [
            threading.Thread(target=self._work, name=f"camwatch-decode-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    # -- submitting (event loop thread) ------------------------------------------
    @property
    def pending(self) -> int:
        """Jobs offered or submitted and not finished."""
        with self._cond:
            return len(self._waiting) + len(self._running)

    def try_submit(self, fn: Callable[[], Any]) -> asyncio.Future[Any] | None:
        """Queue fn (FIFO); None when max_pending jobs are already queued."""
        if self._fifo >= self.max_pending:
            self.rejected += 1
            return None
        fut = self._offer(object(), lambda _decoders: fn(), time.monotonic())
        if fut is not None:
            self._fifo += 1
            fut.add_done_callback(self._fifo_done)
        return fut

    def _fifo_done(self, _fut: asyncio.Future[Any]) -> None:
        self._fifo -= 1

    def offer(self, key: Hashable, fn: Job, priority: float) -> asyncio.Future[Any] | None:
        """Make fn the next job of `key`; priority orders keys (lower first:
        pass the time of the key's last sample). A job of key still waiting is
        cancelled (superseded). None once the pool is shut down."""
        return self._offer(key, fn, priority)

    def _offer(self, key: Hashable, fn: Job, priority: float) -> asyncio.Future[Any] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # fed outside an event loop: nobody could take the result
            loop = None
        if loop is None or self.max_pending == 0:  # max_pending=0: a pool that decodes nothing
            self.rejected += 1
            return None
        fut: asyncio.Future[Any] = loop.create_future()
        with self._cond:
            if self._closed:
                return None
            old = self._waiting.get(key)
            self._waiting[key] = _Waiting(fn, fut, loop, time.monotonic())
            if old is None:
                if key not in self._running:
                    heapq.heappush(self._heap, (priority, next(self._seq), key))
                else:
                    self._blocked.add(key)
                self._cond.notify()
            else:
                self.superseded += 1
        if old is not None:
            old.future.cancel()
        return fut

    def yield_to_loop(self) -> None:
        """Called by a job before work that holds the GIL (image analysis):
        wait, up to YIELD_MAX, while the event loop is running late.

        Decoding releases the GIL but numpy on small frames mostly does not,
        and a niced decode thread preempted while holding it stalls the loop
        (priority inversion): during a burst of keyframes the loop's worst
        lag tripled. Waiting here costs the sample some latency, never the loop.
        """
        beat = self.loop_beat
        if not beat or time.monotonic() - beat <= LOOP_LATE:
            return
        deadline = time.monotonic() + YIELD_MAX
        while time.monotonic() - self.loop_beat > LOOP_LATE and time.monotonic() < deadline:
            time.sleep(YIELD_STEP)

    # -- figures -----------------------------------------------------------------
    def figures(self) -> PoolFigures:
        with self._cond:
            return PoolFigures(
                completed=self.completed,
                failed=self.failed,
                superseded=self.superseded,
                rejected=self.rejected,
                waiting=len(self._waiting),
                running=len(self._running),
                cpu_s=self.cpu_s,
                throttled_s=self.throttled_s,
                wait_s=self.wait_s,
                budget=self.budget,
            )

    def set_budget(self, budget: float | None) -> None:
        with self._cond:
            self.budget = budget
            self._credit = min(self._credit, budget or 0.0)
            self._cond.notify_all()

    # -- workers -------------------------------------------------------------------
    def _work(self) -> None:
        _lower_priority()
        decoders = Decoders()
        while True:
            with self._cond:
                item = self._next_job()
                if item is None:
                    return
                key, job = item
            t0 = time.thread_time()
            try:
                result, error = job.fn(decoders), None
            except BaseException as exc:  # delivered to the caller, never lost
                result, error = None, exc
            spent = time.thread_time() - t0
            with self._cond:
                self._running.discard(key)
                self.cpu_s += spent
                self._credit -= spent
                if error is None:
                    self.completed += 1
                else:
                    self.failed += 1
                if key in self._blocked:
                    self._blocked.discard(key)
                    if key in self._waiting:
                        heapq.heappush(self._heap, (-1.0, next(self._seq), key))
                        self._cond.notify()
            _deliver(job, result, error)
        decoders.clear()

    def _next_job(self) -> tuple[Hashable, _Waiting] | None:
        """Under the lock: wait for budget and a runnable job; None when closed."""
        while not self._closed:
            wait = self._budget_wait()
            if wait > 0:
                t0 = time.monotonic()
                self._cond.wait(wait)
                self.throttled_s += time.monotonic() - t0
                continue
            while self._heap:
                _, _, key = heapq.heappop(self._heap)
                job = self._waiting.get(key)
                if job is None:
                    continue  # stale entry
                if key in self._running:
                    self._blocked.add(key)
                    continue
                del self._waiting[key]
                self._running.add(key)
                self.wait_s += time.monotonic() - job.offered
                return key, job
            self._cond.wait()
        return None

    def _budget_wait(self) -> float:
        """Seconds to wait before the next job may start (0: go)."""
        budget = self.budget
        if budget is None or not self._heap:
            return 0.0
        now = time.monotonic()
        # Credit accrues at `budget` CPU-seconds per second, up to one second's worth.
        self._credit = min(budget, self._credit + (now - self._refilled) * budget)
        self._refilled = now
        return 0.0 if self._credit > 0 else -self._credit / budget + 0.001

    def shutdown(self) -> None:
        """Stop the workers after their current job; waiting jobs are cancelled."""
        with self._cond:
            self._closed = True
            waiting = list(self._waiting.values())
            self._waiting.clear()
            self._heap.clear()
            self._cond.notify_all()
        for job in waiting:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                job.loop.call_soon_threadsafe(job.future.cancel)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()


def _lower_priority() -> None:
    """Make this (decode) thread yield the CPU to the event loop.

    Linux schedules threads one by one: at the same priority, two busy decode
    threads get two thirds of the CPU the loop needs to read packets, and the
    loop falls seconds behind. Niced, they take what the loop leaves; the
    pool's figures then show the cameras sampled less often.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + DECODE_NICE)


def _deliver(job: _Waiting, result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop closed while we decoded
        job.loop.call_soon_threadsafe(settle)
