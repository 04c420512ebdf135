"""One camera's supervisor: connect, watch, reconnect, and publish state.

States (camwatch.state.Status): connecting → live; live → stalled when the
session is up but media stops for `stall_timeout`; offline, auth_failed,
not_found and unsupported when a session cannot be set up. A failing camera
keeps its failure status across retries (it does not flap through
`connecting`), and retries with exponential backoff plus jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .backoff import Backoff
from .bus import Bus
from .decode import DecodePool
from .fleethealth import nominal_interval
from .pipeline import FrameHook, MediaPipeline, Sampled
from .rtp.rtcp import build_receiver_report
from .rtsp.client import Endpoint, RtspFailure, RtspSession
from .state import CameraState, Condition, FrameSample, Status, StatusChanged, StreamStats
from .stats import Pulse

log = logging.getLogger("camwatch.camera")

RR_INTERVAL = 5.0
# Longest watch tick: the granularity of stall detection (5 s by default) and of
# the statistics checks. Each tick of each camera is a wakeup of the loop (~20 us).
WATCH_TICK = 1.0
NO_MEDIA_AUTO_FALLBACK = 3.0  # "auto" transport: UDP that brings nothing within this → TCP


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    stall_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_after_stall: float = 15.0  # a stalled session is rebuilt after this long
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    publish_interval: float = 1.0
    # A live camera with no active image condition republishes unchanged
    # figures this often; status and condition changes, and figures that move
    # (see `stats_moved`), still go out at once. The rule engine's pass over
    # each state was a large share of a 1000-camera fleet's loop, for figures
    # that did not change.
    quiet_publish_interval: float = 5.0
    sample_interval: float = 1.0
    # A camera whose picture is healthy (see pipeline.MediaPipeline._adapt) is
    # sampled this often instead; any image condition brings it back to
    # sample_interval at once. None or <= sample_interval: always sample_interval.
    healthy_sample_interval: float | None = 4.0
    gray_width: int = 320
    rgb_width: int = 160
    retry: bool = True  # False for one-shot probes: stop at the first failure
    # Read playing TCP sessions this often (seconds) on a shared timer, with
    # kernel arrival times (camwatch/rtsp/poller.py): a fifth of the reads of
    # a fleet at 15 fps. 0: read each frame as it arrives.
    read_every: float = 0.2


@dataclass(frozen=True, slots=True)
class CameraTarget:
    """What a monitor needs to know about a camera (built from the inventory)."""

    name: str
    url: str  # without credentials
    display_url: str
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    transport: str = "tcp"  # tcp | udp | auto
    site: str = ""
    tags: tuple[str, ...] = ()


class CameraMonitor:
    def __init__(
        self,
        target: CameraTarget,
        bus: Bus,
        pool: DecodePool,
        settings: MonitorSettings = MonitorSettings(),
        *,
        frame_hook: FrameHook | None = None,
        connect_gate: asyncio.Semaphore | None = None,
        on_sample: Callable[[CameraMonitor, Sampled], None] | None = None,
    ) -> None:
        self.target = target
        self.bus = bus
        self.pool = pool
        self.settings = settings
        self.frame_hook = frame_hook
        self.connect_gate = connect_gate
        self._on_sample_cb = on_sample
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self.state = CameraState(
            name=target.name,
            url=target.display_url,
            site=target.site,
            tags=target.tags,
            status=Status.CONNECTING,
            reason="connecting",
        )
        self.latest_sample: FrameSample | None = None
        self.image_conditions: tuple[Condition, ...] = ()
        self._conditions_changed = False
        self._wake: asyncio.Future[None] | None = None
        self._pipeline: MediaPipeline | None = None
        self._closed_event = asyncio.Event()
        self._last_decoded: Any = None
        self._transport = "udp" if target.transport in ("udp", "auto") else "tcp"
        self.attempts = 0
        self._stopping = False

    # -- public ------------------------------------------------------------
    async def run(self) -> None:
        """Supervise until cancelled (or, with retry=False, the first failure)."""
        try:
            while not self._stopping:
                await self._attempt()
                if not self.settings.retry and self.state.status.is_failure:
                    return
                if self._stopping:
                    return
                await asyncio.sleep(self.backoff.next_delay())
        finally:
            if self._pipeline is not None:
                self._pipeline.release()

    def stop(self) -> None:
        self._stopping = True

    def refresh(self) -> None:
        """Publish fresh statistics now (probe and check call it at the end)."""
        if self._pipeline is not None and self.state.status is not Status.CONNECTING:
            self._publish_stats(self._pipeline, self._pipeline.stats.snapshot(time.monotonic()))

    def sampling(self) -> tuple[float | None, float] | None:
        """(smoothed seconds between samples or None yet, what the schedule
        asks) while live; None otherwise. For the fleet's health figures."""
        pipe = self._pipeline
        if pipe is None or self.state.status is not Status.LIVE:
            return None
        period = pipe.sampling_period(time.monotonic())
        return period, nominal_interval(pipe.sample_interval, pipe.stats.last_gop_s)

    # -- one session -------------------------------------------------------
    async def _attempt(self) -> None:
        self.attempts += 1
        self._pipeline = None
        self._closed_event.clear()
        session = RtspSession(self._endpoint(), _SinkProxy(self), on_track=self._make_pipeline)
        try:
            try:
                await self._open(session)
            except RtspFailure as failure:
                self._on_open_failure(failure)
                return
            assert self._pipeline is not None
            self._pipeline.stats.mark_started(session.play_sent_at or time.monotonic())
            await self._watch(session, self._pipeline)
        finally:
            await asyncio.shield(session.close())

    def _make_pipeline(self, track: Any) -> None:
        self._pipeline = MediaPipeline(
            self.target.name,
            track,
            self.pool,
            sample_interval=self.settings.sample_interval,
            healthy_sample_interval=self.settings.healthy_sample_interval,
            gray_width=self.settings.gray_width,
            rgb_width=self.settings.rgb_width,
            frame_hook=self.frame_hook,
            on_sample=self._on_sample,
            on_closed=self._on_pipeline_closed,
        )

    def _on_pipeline_closed(self, _error: BaseException | None) -> None:
        self._closed_event.set()
        self._wake_up()

    async def _open(self, session: RtspSession) -> Any:
        budget = self.settings.connect_timeout * 4  # connect + OPTIONS/DESCRIBE/SETUP/PLAY
        gate = self.connect_gate or contextlib.nullcontext()
        async with gate:
            try:
                return await asyncio.wait_for(session.open(), budget)
            except TimeoutError:
                raise RtspFailure(
                    Status.OFFLINE, f"session setup took longer than {budget:g} s"
                ) from None

    def _on_open_failure(self, failure: RtspFailure) -> None:
        if self.target.transport == "auto" and failure.status is Status.UNSUPPORTED:
            self._transport = "tcp" if self._transport == "udp" else "udp"
        self._set_status(failure.status, failure.reason)

    async def _watch(self, session: RtspSession, pipe: MediaPipeline) -> None:
        s = self.settings
        opened = time.monotonic()
        last_rr = 0.0
        # Cameras started together would all publish in the same tick: spread
        # them over the interval so the rule engine and front ends see an even
        # flow instead of a burst that stalls the loop once a second.
        next_check = opened + random.uniform(0.0, s.publish_interval)
        next_publish = next_check
        pulse: Pulse | None = None  # counters at the last check
        while not self._stopping:
            now = time.monotonic()
            if self._closed_event.is_set() or not session.alive:
                reason = _closed_reason(pipe.closed)
                self._set_status(Status.OFFLINE, reason)
                return
            if self._judge_silence(pipe, now - (pipe.last_packet or opened)):
                return  # rebuild the session (or switch transport); backoff applies
            if session.keepalive_due:
                await session.keep_alive()
            if now - last_rr >= RR_INTERVAL and pipe.ssrc is not None:
                last_rr = now
                await session.send_rtcp(self._receiver_report(pipe))
            if now >= next_check or self._conditions_changed:
                next_check = now + s.publish_interval
                pulse, next_publish = self._check_stats(pipe, now, pulse, next_publish)
            await self._tick()

    def _judge_silence(self, pipe: MediaPipeline, silent_for: float) -> bool:
        """Live or stalled from how long the stream has been silent; True: end
        the session (stalled too long, or "auto" falling back to TCP)."""
        s = self.settings
        if pipe.last_packet is not None and silent_for < s.stall_timeout:
            if self.state.status is not Status.LIVE:
                self.backoff.reset()
                self._set_status(Status.LIVE, "receiving video")
            return False
        if silent_for < s.stall_timeout:
            return False
        if self._auto_fallback(pipe, silent_for):
            return True
        if self.state.status is not Status.STALLED:
            self._set_status(
                Status.STALLED, f"no video for {s.stall_timeout:g} s while the RTSP session is up"
            )
        return silent_for >= s.reconnect_after_stall

    def _check_stats(
        self, pipe: MediaPipeline, now: float, prev: Pulse | None, next_publish: float
    ) -> tuple[Pulse, float]:
        """Publish the statistics when due or when they moved; the window is read
        only when the running counters say a figure may have. Returns this
        check's counters and when the next publication is due."""
        due = now >= next_publish or self._conditions_changed
        pulse = pipe.stats.pulse(now)
        if due or prev is None or pulse.may_have_moved(prev, self.state.stats):
            stats = pipe.stats.snapshot(now)
            if due or stats_moved(self.state.stats, stats):
                next_publish = now + self._publish_every()
                self._publish_stats(pipe, stats)
        return pulse, next_publish

    def _publish_every(self) -> float:
        s = self.settings
        quiet = self.state.status is Status.LIVE and not _active_kinds(self.image_conditions)
        return max(s.publish_interval, s.quiet_publish_interval) if quiet else s.publish_interval

    async def _tick(self) -> None:
        """Sleep one watch tick, or less if the session closes.

        A bare future and timer: `asyncio.wait_for` would create a task per
        tick, which across a fleet was a large share of the loop's time.
        """
        if self._closed_event.is_set():
            return
        loop = asyncio.get_running_loop()
        wake = loop.create_future()
        self._wake = wake
        s = self.settings
        timer = loop.call_later(
            min(WATCH_TICK, s.publish_interval, s.stall_timeout / 4), _settle, wake
        )
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    def _wake_up(self) -> None:
        if self._wake is not None:
            _settle(self._wake)

    def _auto_fallback(self, pipe: MediaPipeline, silent_for: float) -> bool:
        """UDP blocked by a firewall looks like silence: switch "auto" to TCP."""
        if (
            self.target.transport == "auto"
            and self._transport == "udp"
            and pipe.first_packet is None
            and silent_for >= NO_MEDIA_AUTO_FALLBACK
        ):
            self._transport = "tcp"
            self.backoff.reset()
            return True
        return False

    # -- state -------------------------------------------------------------
    def _endpoint(self) -> Endpoint:
        t = self.target
        s = self.settings
        return Endpoint(
            t.url, t.username, t.password, self._transport, s.connect_timeout, s.read_every
        )

    def _set_status(self, status: Status, reason: str) -> None:
        old = self.state
        now = time.time()
        changed = status is not old.status
        reconnects = old.reconnects + (1 if status is Status.LIVE and self.attempts > 1 else 0)
        self.state = dataclasses.replace(
            old,
            status=status,
            reason=reason,
            since=now if changed else old.since,
            updated=now,
            reconnects=reconnects if changed else old.reconnects,
        )
        if changed:
            self.bus.publish(StatusChanged(old.name, old.status, status, reason, now))
        self.bus.publish(self.state)

    def _publish_stats(self, pipe: MediaPipeline, stats: StreamStats) -> None:
        self._conditions_changed = False
        sample = self.latest_sample
        self.state = dataclasses.replace(
            self.state,
            info=pipe.stream_info(self._transport, self._last_decoded),
            stats=stats,
            decode=pipe.decode_stats(),
            conditions=self.image_conditions,
            last_frame_at=sample.at if sample else None,
            updated=time.time(),
        )
        self.bus.publish(self.state)

    def _on_sample(self, result: Sampled) -> None:
        self.latest_sample = result.sample
        self._last_decoded = result.decoded
        analysis = result.analysis
        if analysis is not None:
            conditions = tuple(getattr(analysis, "conditions", ()))
            if _active_kinds(conditions) != _active_kinds(self.image_conditions):
                # A condition appearing or clearing is news: publish at the next tick.
                self._conditions_changed = True
            self.image_conditions = conditions
            self.state = dataclasses.replace(
                self.state,
                analysis=analysis,
                motion_level=getattr(analysis, "motion_level", None),
            )
        if self._on_sample_cb is not None:
            self._on_sample_cb(self, result)

    def _receiver_report(self, pipe: MediaPipeline) -> bytes:
        fraction, cumulative, highest, jitter = pipe.stats.report_block()
        lsr, dlsr = 0, 0
        if pipe.last_sr is not None:
            lsr = pipe.last_sr[0]
            dlsr = int((time.monotonic() - pipe.last_sr[1]) * 65536)
        return build_receiver_report(
            0x43414D57, pipe.ssrc or 0, fraction, cumulative, highest, jitter, lsr, dlsr
        )

    @property
    def stats(self) -> StreamStats:
        return self.state.stats


class _SinkProxy:
    """Routes the session's callbacks to whichever pipeline is current."""

    def __init__(self, monitor: CameraMonitor) -> None:
        self.m = monitor

    def on_rtp(self, data: bytes) -> None:
        pipe = self.m._pipeline
        if pipe is not None:
            pipe.on_rtp(data)

    def on_rtp_run(self, payloads: list[bytes], newest: bool, at: float | None) -> None:
        pipe = self.m._pipeline
        if pipe is not None:
            pipe.on_rtp_run(payloads, newest, at)

    def on_rtcp(self, data: bytes, exact: bool = True, at: float | None = None) -> None:
        pipe = self.m._pipeline
        if pipe is not None:
            pipe.on_rtcp(data, exact, at)

    def on_closed(self, error: BaseException | None) -> None:
        pipe = self.m._pipeline
        if pipe is not None:
            pipe.on_closed(error)
        self.m._closed_event.set()
        self.m._wake_up()


def stats_moved(old: StreamStats, new: StreamStats) -> bool:
    """True when a figure moved enough since it was last published to be news.

    A quiet camera's figures are checked every publish interval but published
    only when they move, so a rule crossing its threshold is seen within a
    second or two, not at the next quiet republish. The bands are well inside
    the default rule thresholds (2 % loss, 30 ms frame jitter, half the fps,
    a fifth of the bitrate) so no crossing waits, and wide enough that a
    steady camera's window noise stays quiet.
    """
    return (
        abs(new.loss_ratio - old.loss_ratio) >= 0.005
        or abs(new.fps - old.fps) > max(0.5, 0.15 * old.fps)
        or abs(new.bitrate_bps - old.bitrate_bps) > 0.2 * old.bitrate_bps
        or abs(new.frame_jitter_ms - old.frame_jitter_ms) > 5.0
        or (new.gop_s is None) != (old.gop_s is None)
        or (new.gop_s is not None and old.gop_s is not None and abs(new.gop_s - old.gop_s) > 0.5)
    )


def _settle(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _active_kinds(conditions: tuple[Condition, ...]) -> frozenset[str]:
    return frozenset(c.kind for c in conditions if c.active)


def _closed_reason(error: BaseException | None) -> str:
    if error is None:
        return "connection closed"
    text = str(error) or type(error).__name__
    return f"connection lost: {text}"
