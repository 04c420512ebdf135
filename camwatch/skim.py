"""Access units from RTP and NAL headers alone, for frames nobody will decode.

The statistics need each frame's timestamp, size and keyframe flag, and the
frames lost; only the keyframe the sampler takes needs its bytes assembled.
`FrameSkimmer` follows the depacketizer's rules (camwatch.rtp.nal.Depacketizer)
for where a unit ends, what a sequence gap drops and how the stream resyncs,
looking at one or two header bytes per packet and copying nothing. It also
keeps the latest in-band parameter sets, which a depacketizer started for a
sampled keyframe needs when the camera sends them apart from its IDRs.
"""

from __future__ import annotations

from collections.abc import Callable

from .rtp.nal import MAX_RESYNC_UNITS, SequenceGate, split_annexb

# H.264 (RFC 6184) and H.265 (RFC 7798) NAL unit types the skimmer tells apart.
_H264_FU, _H264_STAP = 28, 24
_H264_PARAMS = (7, 8)  # SPS, PPS
# Types a keyframe's unit may open with: IDR, SEI, SPS, PPS, AUD, STAP-A.
_H264_KEY_OPENERS = frozenset({5, 6, 7, 8, 9, _H264_STAP})
_H265_FU, _H265_AP = 49, 48
_H265_PARAMS = (32, 33, 34)  # VPS, SPS, PPS
# IRAP pictures (16-23), VPS, SPS, PPS, AUD, prefix SEI, AP.
_H265_KEY_OPENERS = frozenset({*range(16, 24), 32, 33, 34, 35, 39, _H265_AP})

OnFrame = Callable[[int, float, int, bool], None]


class FrameSkimmer:
    """Frame boundaries, sizes and keyframes of one RTP video stream.

    push() calls on_frame(rtp_ts, arrival, size, keyframe) for each complete
    unit and on_dropped() for each unit lost to a gap or skipped while waiting
    for a keyframe after one, as the depacketizer would count them.
    """

    def __init__(
        self,
        codec: str,
        on_frame: OnFrame,
        on_dropped: Callable[[], None],
        starts_picture: Callable[[bytes], bool],
    ) -> None:
        """starts_picture: the codec's test that a unit's first payload begins a
        picture (the depacketizer's own, so both judge a gap alike)."""
        self.h265 = codec == "h265"
        self._param_types = _H265_PARAMS if self.h265 else _H264_PARAMS
        self._on_frame = on_frame
        self._on_dropped = on_dropped
        self._starts_picture = starts_picture
        self.params: dict[int, bytes] = {}  # latest in-band VPS/SPS/PPS by type
        self._expected: int | None = None
        self._gate = SequenceGate()
        self._ts: int | None = None
        self._size = 0
        self._nals = False  # the unit holds a NAL unit (any)
        self._vcl = False  # ... a slice
        self._key = False  # ... an IDR/IRAP slice
        self._damaged = False
        self._after_gap = True
        self._waiting_key = False
        self._skipped = 0
        self._look = self._look_h265 if self.h265 else self._look_h264

    @property
    def unit_ts(self) -> int | None:
        """Timestamp of the unit in progress (None between units)."""
        return self._ts

    def hand_over(self, seq: int, ts: int, now: float) -> bool:
        """Before another assembler takes the stream from this packet (which
        opens a new unit): account for a gap before it and end the unit in
        progress. False: a duplicate or late packet, to be dropped."""
        expected = self._expected
        if seq != expected and expected is not None and not self._gap(seq, ts):
            return False
        self.finish_unit(now)
        return True

    def may_open_keyframe(self, payload: bytes) -> bool:
        """Whether a unit starting with this payload may be a keyframe's."""
        if not payload:
            return False
        if self.h265:
            if len(payload) < 3:
                return False
            kind = (payload[0] >> 1) & 0x3F
            if kind == _H265_FU:  # the start of a fragmented IRAP slice or SEI
                return bool(payload[2] & 0x80) and payload[2] & 0x3F in _H265_KEY_OPENERS
            return kind in _H265_KEY_OPENERS
        kind = payload[0] & 0x1F
        if kind == _H264_FU:
            return (
                len(payload) > 1
                and bool(payload[1] & 0x80)
                and payload[1] & 0x1F in _H264_KEY_OPENERS
            )
        return kind in _H264_KEY_OPENERS

    def push(self, seq: int, ts: int, marker: bool, payload: bytes, now: float) -> None:
        expected = self._expected
        if seq != expected and expected is not None and not self._gap(seq, ts):
            return
        self._expected = (seq + 1) & 0xFFFF
        if ts != self._ts:
            if self._ts is None:
                self._start(ts, payload)
            elif self._can_end():
                self._finish(now)
                self._start(ts, payload)
            else:
                self._ts = ts  # a parameter set re-timestamped ahead of its picture
        self._size += len(payload)
        if not self._damaged and payload:
            self._look(payload)
        if marker and self._can_end():
            self._finish(now)

    def finish_unit(self, now: float) -> None:
        """End the unit in progress (another assembler takes the stream over)."""
        if self._ts is not None:
            self._finish(now)

    def keep_params(self, nals: list[bytes | None]) -> None:
        """Parameter sets another assembler saw (the latest of each type wins)."""
        for nal in nals:
            if nal:
                kind = (nal[0] >> 1) & 0x3F if self.h265 else nal[0] & 0x1F
                if kind in self._param_types:
                    self.params[kind] = nal

    @property
    def waiting_key(self) -> bool:
        """Units are dropped until a keyframe (the stream lost sync)."""
        return self._waiting_key

    def skipped_while_waiting(self) -> None:
        """Another assembler dropped a non-key unit for us while waiting."""
        self._skipped += 1

    def resume(self, seq: int, waiting_key: bool) -> None:
        """Take the stream back at seq, between units, in the given sync state."""
        self._expected = seq
        self._gate.reset()
        self._after_gap = False
        self._reset_unit()
        if waiting_key:
            self._lose_sync()
        else:
            self._waiting_key = False

    def lose_stream(self) -> None:
        """A new SSRC or session: the next packet starts over, as after a gap."""
        self._expected = None
        self._gate.reset()
        if self._ts is not None:
            self._damaged = True
        self._after_gap = True

    # -- sequence ------------------------------------------------------------------
    def _gap(self, seq: int, ts: int) -> bool:
        """An unexpected seq (Depacketizer._discontinuity); False: drop the packet."""
        if self._gate.judge(seq, self._expected) is None:  # type: ignore[arg-type]
            return False
        self._lose_sync()
        if self._ts is not None:
            self._damaged = True
            if ts == self._ts:
                return True
        self._after_gap = True
        return True

    def _lose_sync(self) -> None:
        if not self._waiting_key:
            self._waiting_key = True
            self._skipped = 0

    # -- units -------------------------------------------------------------------------
    def _start(self, ts: int, payload: bytes) -> None:
        self._ts = ts
        if self._after_gap:
            self._after_gap = False
            if not payload or not self._starts_picture(payload):
                self._damaged = True

    def _can_end(self) -> bool:
        return self._damaged or self._vcl or not self._nals

    # _look(payload): note the NAL types of one payload (and keep parameter sets).
    # A fragment's type is noted from its start: the rest of a fragmented NAL unit
    # (most packets) brings nothing new, and a unit missing the start is damaged.

    def _look_h264(self, payload: bytes) -> None:
        kind = payload[0] & 0x1F
        if kind == _H264_FU:
            if len(payload) < 3:
                self._damaged = True
            elif payload[1] & 0x80:
                self._nal(payload[1] & 0x1F, None)
            elif not self._nals:
                self._damaged = True  # a continuation without its start
        elif 0 < kind < _H264_STAP:
            self._nal(kind, payload)
        elif kind == _H264_STAP:
            self._aggregate(payload, 1)
        elif payload.startswith(b"\x00\x00"):
            for nal in split_annexb(payload):
                self._nal(nal[0] & 0x1F, nal)
        else:
            self._damaged = True

    def _look_h265(self, payload: bytes) -> None:
        if len(payload) < 3:
            self._damaged = True
            return
        kind = (payload[0] >> 1) & 0x3F
        if kind == _H265_FU:
            if payload[2] & 0x80:
                self._nal(payload[2] & 0x3F, None)
            elif not self._nals:
                self._damaged = True  # a continuation without its start
        elif kind == _H265_AP:
            self._aggregate(payload, 2)
        elif kind < _H265_AP:
            self._nal(kind, payload)
        elif payload.startswith(b"\x00\x00"):
            for nal in split_annexb(payload):
                self._nal((nal[0] >> 1) & 0x3F, nal)
        else:
            self._damaged = True

    def _aggregate(self, payload: bytes, header: int) -> None:
        off, n = header, len(payload)
        while off + 2 < n:
            size = (payload[off] << 8) | payload[off + 1]
            off += 2
            if size == 0 or off + size > n:
                break
            nal = payload[off : off + size]
            self._nal((nal[0] >> 1) & 0x3F if self.h265 else nal[0] & 0x1F, nal)
            off += size

    def _nal(self, kind: int, nal: bytes | None) -> None:
        self._nals = True
        if self.h265:
            if kind < 32:
                self._vcl = True
                self._key = self._key or 16 <= kind <= 23
        elif 1 <= kind <= 5:
            self._vcl = True
            self._key = self._key or kind == 5
        if nal is not None and kind in self._param_types:
            self.params[kind] = nal

    def _finish(self, now: float) -> None:
        ts, size, key = self._ts, self._size, self._key
        damaged, nals = self._damaged, self._nals
        self._reset_unit()
        if damaged:
            self._on_dropped()
            self._lose_sync()
            return
        if not nals:
            return
        if self._waiting_key:
            if not key and self._skipped < MAX_RESYNC_UNITS:
                self._skipped += 1
                self._on_dropped()
                return
            self._waiting_key = False
        self._on_frame(ts, now, size, key)  # type: ignore[arg-type]

    def _reset_unit(self) -> None:
        self._ts = None
        self._size = 0
        self._nals = self._vcl = self._key = self._damaged = False
