"""Encode a scene once into a loop of RTP-ready access units, and cache loops.

A loop is a whole number of GOPs, each starting with an IDR that carries its
parameter sets in-band, so a client may join at any keyframe and the loop can
repeat forever. Every access unit is packetized once; cameras and clients
share the payloads and only build the 12-byte headers.

Encoding happens in worker threads (PyAV releases the GIL while x264/x265
work). Finished loops are kept in a small process-wide LRU so that servers
started one after another (tests) and cameras with equal parameters share them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import functools
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction

from camwatch.rtp.packetize import DEFAULT_MTU, packetize_access_unit, split_annexb

from .scene import SceneSpec, render

_ENCODERS = {"h264": "libx264", "h265": "libx265"}
_PARAMETER_SET_TYPES = {"h264": (7, 8), "h265": (32, 33, 34)}
# Finished loops kept: ~0.5 MB each at the default substream settings, so the
# byte budget holds a few hundred of them, or a few dozen 1080p ones.
_CACHE_LIMIT = 400
_CACHE_BYTES = 192 * 1024 * 1024


class EncodeCancelled(Exception):
    """The cache was closed while this loop was being encoded."""


@dataclass(frozen=True)
class LoopSpec:
    """Everything that determines an encoded loop (and so its cache key)."""

    codec: str
    width: int
    height: int
    fps: float
    gop_frames: int
    gops: int
    bitrate: int
    scene: int = 0
    overlay: bool = True
    look: str = "normal"
    look_params: tuple[tuple[str, float], ...] = ()
    mtu: int = DEFAULT_MTU
    style: str = "street"
    noise: float = 2.0  # sensor noise sigma
    gain: float = 1.0  # light (see scene.SceneSpec)
    offset: float = 0.0
    ir: bool = False

    @property
    def frames(self) -> int:
        return self.gop_frames * self.gops

    def scene_spec(self) -> SceneSpec:
        return SceneSpec(
            width=self.width,
            height=self.height,
            fps=self.fps,
            frames=self.frames,
            scene=self.scene,
            overlay=self.overlay,
            look=self.look,
            look_params=self.look_params,
            style=self.style,
            noise=self.noise,
            gain=self.gain,
            offset=self.offset,
            ir=self.ir,
        )

    def with_look(self, look: str, params: tuple[tuple[str, float], ...] = ()) -> LoopSpec:
        return replace(self, look=look, look_params=params)


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture as RTP payloads (without RTP headers)."""

    payloads: tuple[bytes, ...]
    keyframe: bool
    size: int


@dataclass(frozen=True)
class EncodedLoop:
    spec: LoopSpec
    frames: tuple[AccessUnit, ...]
    parameter_sets: tuple[bytes, ...]  # NAL units from the first IDR, for the SDP
    encode_seconds: float

    @property
    def nbytes(self) -> int:
        return sum(frame.size for frame in self.frames)

    @property
    def bitrate(self) -> float:
        """Measured bits per second over the loop."""
        total = sum(frame.size for frame in self.frames)
        return total * 8 * self.spec.fps / max(1, len(self.frames))


def encode_loop(spec: LoopSpec, cancel: threading.Event | None = None) -> EncodedLoop:
    """Render and encode spec (blocking; seconds of CPU for large sizes)."""
    _validate(spec)
    started = time.perf_counter()
    ctx = _open_encoder(spec)
    scene = spec.scene_spec()
    # One GOP before the loop lets rate control settle; frames are rendered
    # lazily so a 1080p loop never sits in memory as raw pictures.
    warmup = spec.gop_frames
    images = itertools.chain(itertools.islice(render(scene), warmup), render(scene))
    packets: list[tuple[int, bytes, bool]] = []
    for pts, image in enumerate(images):
        if cancel is not None and cancel.is_set():
            raise EncodeCancelled(f"encoding of {spec.look} loop cancelled")
        frame = _to_video_frame(image, pts)
        packets.extend((p.pts, bytes(p), p.is_keyframe) for p in ctx.encode(frame))
    packets.extend((p.pts, bytes(p), p.is_keyframe) for p in ctx.encode(None))
    del ctx
    units = _loop_units(spec, packets, warmup)
    loop = EncodedLoop(
        spec=spec,
        frames=units,
        parameter_sets=_parameter_sets(spec.codec, packets, warmup),
        encode_seconds=time.perf_counter() - started,
    )
    _release_memory()
    return loop


def _release_memory() -> None:
    """Give the encoder's freed buffers back to the OS (glibc keeps them otherwise).

    Without this a sim that encoded a few loops keeps ~100 MB of freed frames
    resident for its whole life.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():  # -> ctypes function or None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


def _validate(spec: LoopSpec) -> None:
    if spec.codec not in _ENCODERS:
        raise ValueError(f"unknown codec {spec.codec!r}; use h264 or h265")
    if spec.width % 2 or spec.height % 2 or spec.width < 64 or spec.height < 64:
        raise ValueError(f"size {spec.width}x{spec.height}: need even sizes of at least 64")
    if spec.gop_frames < 1 or spec.gops < 1 or spec.fps <= 0 or spec.bitrate <= 0:
        raise ValueError("gop, fps and bitrate must be positive")


def _open_encoder(spec: LoopSpec):  # -> av.VideoCodecContext
    import av

    ctx = av.CodecContext.create(_ENCODERS[spec.codec], "w")
    ctx.width, ctx.height = spec.width, spec.height
    ctx.pix_fmt = "yuv420p"
    rate = Fraction(spec.fps).limit_denominator(1001)
    ctx.time_base = 1 / rate
    ctx.framerate = rate
    ctx.bit_rate = spec.bitrate
    ctx.gop_size = spec.gop_frames
    kbit = max(1, spec.bitrate // 1000)
    g = spec.gop_frames
    # Fixed GOP, no scene cuts, headers with every IDR, a VBV like a camera's CBR.
    common = f"keyint={g}:min-keyint={g}:scenecut=0:repeat-headers=1"
    common += f":vbv-maxrate={kbit}:vbv-bufsize={kbit}"
    if spec.codec == "h264":
        options = {"preset": "veryfast", "tune": "zerolatency", "x264-params": common}
    else:
        x265 = f"{common}:bframes=0:open-gop=0:log-level=error"
        options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": x265}
    ctx.options = options
    return ctx


def _to_video_frame(image, pts: int):  # -> av.VideoFrame
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    frame.pts = pts
    return frame


def _loop_units(
    spec: LoopSpec, packets: list[tuple[int, bytes, bool]], skip: int
) -> tuple[AccessUnit, ...]:
    ordered = sorted((p for p in packets if p[0] is not None and p[0] >= skip), key=lambda p: p[0])
    if len(ordered) != spec.frames:
        raise RuntimeError(f"encoder returned {len(ordered)} pictures for {spec.frames} frames")
    units: list[AccessUnit] = []
    for index, (_pts, data, keyframe) in enumerate(ordered):
        if keyframe != (index % spec.gop_frames == 0):
            raise RuntimeError(f"keyframe at picture {index} breaks the fixed GOP")
        payloads = tuple(packetize_access_unit(data, spec.codec, spec.mtu))
        units.append(AccessUnit(payloads=payloads, keyframe=keyframe, size=len(data)))
    return tuple(units)


def _parameter_sets(
    codec: str, packets: list[tuple[int, bytes, bool]], skip: int
) -> tuple[bytes, ...]:
    wanted = _PARAMETER_SET_TYPES[codec]
    for pts, data, keyframe in packets:
        if keyframe and pts is not None and pts >= skip:
            nals = split_annexb(data)
            if codec == "h264":
                found = [n for n in nals if n[0] & 0x1F in wanted]
            else:
                found = [n for n in nals if (n[0] >> 1) & 0x3F in wanted]
            # Keep the order the SDP wants: VPS, SPS, PPS / SPS, PPS.
            return tuple(sorted(found, key=lambda n: _nal_type(codec, n)))
    raise RuntimeError("no keyframe in the encoded loop")


def _nal_type(codec: str, nal: bytes) -> int:
    return nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F


class _Store:
    """Process-wide LRU of finished loops (thread-safe), bounded in count and bytes."""

    def __init__(self, limit: int, limit_bytes: int) -> None:
        self._limit = limit
        self._limit_bytes = limit_bytes
        self._bytes = 0
        self._loops: OrderedDict[LoopSpec, EncodedLoop] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: LoopSpec) -> EncodedLoop | None:
        with self._lock:
            loop = self._loops.get(spec)
            if loop is not None:
                self._loops.move_to_end(spec)
            return loop

    def put(self, loop: EncodedLoop) -> None:
        with self._lock:
            old = self._loops.pop(loop.spec, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._loops[loop.spec] = loop
            self._bytes += loop.nbytes
            while len(self._loops) > 1 and (
                len(self._loops) > self._limit or self._bytes > self._limit_bytes
            ):
                _spec, evicted = self._loops.popitem(last=False)
                self._bytes -= evicted.nbytes


_STORE = _Store(_CACHE_LIMIT, _CACHE_BYTES)


class LoopCache:
    """Loops by spec: finished ones at once, others encoded in this cache's threads."""

    def __init__(self, workers: int = 1) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="sim-encode"
        )
        self._pending: dict[LoopSpec, concurrent.futures.Future[EncodedLoop]] = {}
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def request(self, spec: LoopSpec) -> concurrent.futures.Future[EncodedLoop]:
        """A future for the loop; starts encoding it unless finished or under way."""
        loop = _STORE.get(spec)
        if loop is not None:
            done: concurrent.futures.Future[EncodedLoop] = concurrent.futures.Future()
            done.set_result(loop)
            return done
        with self._lock:
            future = self._pending.get(spec)
            # A failed encode stays failed: retrying it every frame would burn the CPU.
            if future is None:
                future = self._executor.submit(self._encode, spec)
                self._pending[spec] = future
            return future

    def ready(self, spec: LoopSpec) -> EncodedLoop | None:
        """The loop if finished now, else None (and its encoding is started).

        Raises the encoder's error if encoding failed.
        """
        future = self.request(spec)
        if not future.done() or future.cancelled():
            return None
        return future.result()

    async def load(self, spec: LoopSpec) -> EncodedLoop:
        return await asyncio.wrap_future(self.request(spec))

    def _encode(self, spec: LoopSpec) -> EncodedLoop:
        loop = encode_loop(spec, self._cancel)
        _STORE.put(loop)
        with self._lock:
            self._pending.pop(spec, None)
        return loop

    def close(self) -> None:
        """Stop encoding: running encodes stop at their next frame, queued ones never start."""
        self._cancel.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
