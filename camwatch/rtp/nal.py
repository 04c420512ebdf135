"""NAL-unit plumbing shared by H.264 and H.265.

Holds the AccessUnit value, Annex-B splitting, emulation-prevention removal,
a bit reader for parameter sets, and `Depacketizer`, the codec-neutral access
unit assembler (sequence tracking, loss, resync, parameter-set insertion) that
h264.py and h265.py specialise with their payload formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .packet import RtpPacket

START_CODE = b"\x00\x00\x00\x01"
# One-byte bytes objects, so rebuilding a NAL header from an FU costs no allocation.
BYTE = tuple(bytes((i,)) for i in range(256))
_SHORT_START = b"\x00\x00\x01"

# RFC 3550 appendix A.1: a backwards jump this small is a late or duplicate
# packet; a jump further than this (either way) is a restarted sequence, taken
# only once two consecutive packets confirm it.
MAX_MISORDER = 100
MAX_DROPOUT = 3000
DEFAULT_MAX_AU_BYTES = 8 << 20
# A stream whose pictures are never IDR/IRAP nor carry a recovery-point SEI
# (periodic intra refresh without SEI) would otherwise stay in resync forever.
MAX_RESYNC_UNITS = 300
SEI_RECOVERY_POINT = 6


@dataclass(frozen=True, slots=True)
class AccessUnit:
    data: bytes  # Annex-B (00 00 00 01 start codes) NAL units of one picture
    rtp_timestamp: int
    keyframe: bool  # contains an IDR (H.264 type 5) / IRAP (H.265 types 16..23)
    nal_types: tuple[int, ...]
    packets: int  # RTP packets that carried it
    size: int  # RTP payload bytes of those packets (for bitrate)


class BitstreamError(ValueError):
    """A read past the end of a bitstream or an impossible Exp-Golomb code."""


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream (3- or 4-byte start codes).

    Bytes before the first start code count as a NAL unit too (a payload that is
    "NAL 00 00 00 01 NAL"). Trailing zero bytes of each unit are dropped: no
    valid NAL unit ends in 0x00, while zero padding and the leading zero of a
    4-byte start code do.
    """
    nals: list[bytes] = []
    start = 0
    while True:
        pos = data.find(_SHORT_START, start)
        end = len(data) if pos < 0 else pos
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        if pos < 0:
            return nals
        start = pos + 3


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00).

    bytes.replace scans left to right without overlap, which is exactly the
    rule of H.264 7.4.1 / H.265 7.4.2: the zero count restarts after each 03.
    """
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def sei_payload_types(rbsp: bytes) -> list[int]:
    """payloadType of each message in a SEI RBSP (H.264 7.3.2.3.1, H.265 7.3.5)."""
    types: list[int] = []
    off, n = 0, len(rbsp)
    while off < n and rbsp[off] != 0x80:  # 0x80: rbsp_trailing_bits
        values = []
        for _ in range(2):  # payloadType, then payloadSize: runs of 0xFF plus a last byte
            value = 0
            while off < n and rbsp[off] == 0xFF:
                value += 255
                off += 1
            if off >= n:
                return types
            values.append(value + rbsp[off])
            off += 1
        types.append(values[0])
        off += values[1]
    return types


class BitReader:
    """MSB-first reader of an RBSP (emulation prevention already removed)."""

    __slots__ = ("_bits", "_pos", "_value")

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._bits = len(data) * 8
        self._pos = 0

    @property
    def bits_left(self) -> int:
        return self._bits - self._pos

    def u(self, n: int) -> int:
        """An n-bit unsigned integer."""
        end = self._pos + n
        if end > self._bits:
            raise BitstreamError(f"read of {n} bits at bit {self._pos} passes the end")
        self._pos = end
        return (self._value >> (self._bits - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        self.u(n)

    def ue(self) -> int:
        """Unsigned Exp-Golomb (ue(v))."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError(f"Exp-Golomb code at bit {self._pos} longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Signed Exp-Golomb (se(v))."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


class SequenceGate:
    """What an unexpected sequence number means to a receiver that does not
    reorder (RFC 3550 A.1's tolerances): a gap of lost packets, a late or
    duplicate packet to drop, or a huge jump, taken as a restart only once the
    next packet confirms it (one stray packet must not re-base the stream).
    Shared by the depacketizer and the frame skimmer so they judge alike."""

    __slots__ = ("_probe",)

    def __init__(self) -> None:
        self._probe = -1

    def reset(self) -> None:
        self._probe = -1

    def judge(self, seq: int, expected: int) -> int | None:
        """Packets lost before seq (0 for a confirmed restart), or None: drop seq."""
        jump = (seq - expected) & 0xFFFF
        if jump <= MAX_DROPOUT:
            self._probe = -1
            return jump
        if jump >= 0x10000 - MAX_MISORDER:
            return None  # duplicate or late
        if seq != self._probe:
            self._probe = (seq + 1) & 0xFFFF
            return None
        self._probe = -1
        return 0


class Depacketizer:
    """RTP packets in, Annex-B access units out; codec subclasses parse payloads.

    Tolerance rules (real cameras break every one of RFC 6184/7798 somewhere):
    - An access unit ends at the marker bit, or when the timestamp changes (for
      cameras that never set the marker). It cannot end before it holds a slice:
      some cameras mark or re-timestamp SPS/PPS/SEI packets sent ahead of the
      picture; those NAL units join the picture that follows.
    - A sequence gap damages the unit in progress (it is dropped and counted in
      units_dropped) and starts a resync: units are then dropped (and counted)
      until a keyframe (or a recovery-point SEI) that demonstrably starts at a
      picture boundary, or MAX_RESYNC_UNITS units have been skipped. A
      backwards jump is a duplicate or late packet: discarded, no reordering.
    - Garbage (bad header bits, truncated aggregates, reserved types) never
      raises: the packet is counted in packets_discarded and its unit damaged.
    - Keyframes lacking in-band parameter sets get the latest ones (in-band
      first, else from the SDP) prepended so a decoder can decode them alone.
    Per packet the work is a few comparisons and list appends; fragments are
    joined once per NAL and units once per picture.
    """

    codec = ""
    _PARAM_TYPES: tuple[int, ...] = ()  # in decoder order (VPS, SPS, PPS)
    _SPS_TYPE = -1
    _PPS_TYPE = -1
    _AUD_TYPE = -1
    _SEI_TYPE = -1
    _HEADER_LEN = 1
    _VCL_TYPES: frozenset[int] = frozenset()
    _KEY_TYPES: frozenset[int] = frozenset()

    def __init__(
        self, sprop_nals: Sequence[bytes] = (), *, max_au_bytes: int = DEFAULT_MAX_AU_BYTES
    ) -> None:
        self.units_dropped = 0  # damaged units plus non-key units skipped while resyncing
        self.packets_discarded = 0  # duplicates, garbage, empty payloads, orphan fragments
        self.fu_errors = 0  # fragmentation broken without a sequence gap to explain it
        self.lost_packets_seen = 0  # sum of forward sequence gaps
        self.resyncs = 0  # times the stream lost sync and waited for a keyframe
        self.max_au_bytes = max_au_bytes
        self._sprop: dict[int, list[bytes]] = {}
        for blob in sprop_nals:
            for nal in split_annexb(bytes(blob)):
                t = self._type(nal)
                if t in self._PARAM_TYPES and not nal[0] & 0x80:
                    self._sprop.setdefault(t, []).append(nal)
        self._inband: dict[int, bytes] = {}
        self._ssrc: int | None = None
        self._expected = 0
        self._gate = SequenceGate()
        self._ts: int | None = None  # timestamp of the unit in progress, None between units
        self._nals: list[bytes] = []
        self._fu: list[bytes] | None = None  # header byte(s) + fragments of the NAL in progress
        self._packets = 0
        self._size = 0
        self._damaged = False
        self._after_gap = True  # the next unit must show it starts a picture
        self._waiting_key = False
        self._skipped = 0  # units dropped during the current resync

    # -- codec hooks -------------------------------------------------------

    @staticmethod
    def _type(nal: bytes) -> int:
        raise NotImplementedError

    def _payload(self, payload: bytes) -> None:
        raise NotImplementedError

    def starts_picture(self, payload: bytes) -> bool:
        """True when this RTP payload begins a picture: after a gap, assembly
        resumes there (the frame skimmer applies the same test)."""
        raise NotImplementedError

    # -- public ------------------------------------------------------------

    def push(self, pkt: RtpPacket) -> list[AccessUnit]:
        """Feed one RTP packet; returns the access units it completed (0..n)."""
        out: list[AccessUnit] = []
        if (pkt.seq != self._expected or pkt.ssrc != self._ssrc) and not self._discontinuity(pkt):
            return out
        self._expected = (pkt.seq + 1) & 0xFFFF
        ts = pkt.timestamp
        if ts != self._ts:
            if self._ts is None:
                self._start(ts, pkt.payload)
            elif self._can_end():
                self._finish(out)
                self._start(ts, pkt.payload)
            else:
                self._ts = ts  # a parameter set re-timestamped ahead of its picture
        payload = pkt.payload
        self._packets += 1
        self._size += len(payload)
        if self._damaged:
            pass  # the unit is dropped at its end; its remaining packets need no parsing
        elif self._size > self.max_au_bytes:
            self._damage()
        elif payload:
            self._payload(payload)
        else:
            self.packets_discarded += 1
        if pkt.marker and self._can_end():
            self._finish(out)
        return out

    def flush(self) -> list[AccessUnit]:
        """Complete the unit in progress (end of stream)."""
        out: list[AccessUnit] = []
        if self._ts is not None:
            self._finish(out)
        return out

    @property
    def sps(self) -> bytes | None:
        """Latest SPS seen in-band (None until one arrives)."""
        return self._inband.get(self._SPS_TYPE)

    @property
    def pps(self) -> bytes | None:
        """Latest PPS seen in-band (None until one arrives)."""
        return self._inband.get(self._PPS_TYPE)

    # -- sequence ------------------------------------------------------------

    def _discontinuity(self, pkt: RtpPacket) -> bool:
        """Handle an unexpected seq or a new SSRC; False means drop the packet."""
        if pkt.ssrc != self._ssrc:
            first = self._ssrc is None
            self._ssrc = pkt.ssrc
            self._gate.reset()
            if first:
                return True
        else:
            lost = self._gate.judge(pkt.seq, self._expected)
            if lost is None:
                self.packets_discarded += 1  # duplicate, late or a stray: no reordering here
                return False
            self.lost_packets_seen += lost
        self._lose_sync()
        if self._ts is not None:
            self._damage()
            if pkt.timestamp == self._ts:
                return True  # the rest of a damaged unit; it is dropped at its end
        self._after_gap = True
        return True

    def _lose_sync(self) -> None:
        if not self._waiting_key:
            self._waiting_key = True
            self._skipped = 0
            self.resyncs += 1

    # -- unit assembly -----------------------------------------------------

    def _start(self, ts: int, payload: bytes) -> None:
        self._ts = ts
        if self._after_gap:
            self._after_gap = False
            if not payload or not self.starts_picture(payload):
                self._damaged = True

    def _can_end(self) -> bool:
        if self._damaged or self._fu is not None or not self._nals:
            return True
        vcl, nal_type = self._VCL_TYPES, self._type
        return any(nal_type(nal) in vcl for nal in self._nals)

    def _damage(self) -> None:
        self._damaged = True
        self._fu = None
        self._nals = []

    def _garbage(self) -> None:
        self.packets_discarded += 1
        self._damage()

    def _add(self, nal: bytes) -> None:
        """A complete NAL unit that may hide start codes or trailing padding."""
        if nal[-1] == 0 or _SHORT_START in nal:
            for part in split_annexb(nal):
                self._add_clean(part)
        else:
            self._add_clean(nal)

    def _add_fragmented(self, nal: bytes) -> None:
        """A NAL joined from fragments: slices are not scanned for start codes.

        A slice cannot legally contain one and scanning every picture costs
        ~1 us per KB; non-VCL units are where cameras glue Annex-B streams.
        """
        if self._type(nal) in self._VCL_TYPES:
            if nal[-1] == 0:
                nal = nal.rstrip(b"\x00")
            self._add_clean(nal)
        else:
            self._add(nal)

    def _add_annexb(self, payload: bytes) -> None:
        """A payload that starts with a start code instead of a NAL header."""
        nals = split_annexb(payload)
        if not nals:
            self._garbage()
        for nal in nals:
            self._add_clean(nal)

    def _add_clean(self, nal: bytes) -> None:
        if not nal or nal[0] & 0x80:  # forbidden_zero_bit
            self._garbage()
        else:
            self._nals.append(nal)

    def _finish(self, out: list[AccessUnit]) -> None:
        nals, ts, packets, size = self._nals, self._ts, self._packets, self._size
        damaged = self._damaged
        if self._fu is not None and not damaged:
            self.fu_errors += 1  # the unit ended inside a fragmented NAL
            damaged = True
        self._nals = []
        self._fu = None
        self._ts = None
        self._packets = self._size = 0
        self._damaged = False
        if damaged:
            self.units_dropped += 1
            self._lose_sync()
            return
        if not nals:
            return
        types = tuple(map(self._type, nals))
        params = self._PARAM_TYPES
        if any(t in params for t in types):
            for nal, t in zip(nals, types, strict=True):
                if t in params:
                    self._inband[t] = nal
        key = not self._KEY_TYPES.isdisjoint(types)
        if self._waiting_key:
            if not (key or self._recovery_point(nals, types) or self._skipped >= MAX_RESYNC_UNITS):
                self._skipped += 1
                self.units_dropped += 1
                return
            self._waiting_key = False
        if key and not all(p in types for p in params):
            nals = self._with_params(nals, types)
            types = tuple(map(self._type, nals))
        out.append(AccessUnit(START_CODE + START_CODE.join(nals), ts, key, types, packets, size))

    def _recovery_point(self, nals: list[bytes], types: tuple[int, ...]) -> bool:
        """Whether a SEI of this unit holds a recovery point (a resync point without IDR)."""
        for nal, t in zip(nals, types, strict=True):
            if t == self._SEI_TYPE and SEI_RECOVERY_POINT in sei_payload_types(
                unescape_rbsp(nal[self._HEADER_LEN :])
            ):
                return True
        return False

    def _with_params(self, nals: list[bytes], types: tuple[int, ...]) -> list[bytes]:
        missing: list[bytes] = []
        for t in self._PARAM_TYPES:
            if t in types:
                continue
            if t in self._inband:
                missing.append(self._inband[t])
            else:
                missing.extend(self._sprop.get(t, ()))
        at = 1 if types[0] == self._AUD_TYPE else 0  # the delimiter must stay first
        return nals[:at] + missing + nals[at:]
