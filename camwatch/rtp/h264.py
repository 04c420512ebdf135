"""H.264 RTP depacketizer (RFC 6184, non-interleaved mode).

Packet forms: single NAL unit (types 1-23), STAP-A (24) and FU-A (28).
STAP-B, MTAP and FU-B belong to the interleaved mode, which cameras do not
use; they are counted as discarded like any other garbage.
"""

from __future__ import annotations

from .nal import BYTE, AccessUnit, Depacketizer, split_annexb

__all__ = ["AccessUnit", "H264Depacketizer"]

NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
STAP_A = 24
FU_A = 28

# Types that may open an access unit ahead of its first slice (H.264 7.4.1.2.3).
_AU_OPENERS = frozenset({NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD, 14, 15})


class H264Depacketizer(Depacketizer):
    """See nal.Depacketizer for the tolerance rules and counters."""

    codec = "h264"
    _PARAM_TYPES = (NAL_SPS, NAL_PPS)
    _SPS_TYPE = NAL_SPS
    _PPS_TYPE = NAL_PPS
    _AUD_TYPE = NAL_AUD
    _SEI_TYPE = NAL_SEI
    _HEADER_LEN = 1
    _VCL_TYPES = frozenset(range(1, 6))
    _KEY_TYPES = frozenset({NAL_IDR})

    @staticmethod
    def _type(nal: bytes) -> int:
        return nal[0] & 0x1F

    def _payload(self, payload: bytes) -> None:
        head = payload[0]
        kind = head & 0x1F
        if kind == FU_A:
            self._fu_a(payload, head)
        elif 0 < kind < STAP_A:
            self._add(payload)
        elif kind == STAP_A:
            self._stap_a(payload)
        elif payload.startswith(b"\x00\x00"):
            self._add_annexb(payload)
        else:
            self._garbage()

    def _fu_a(self, payload: bytes, indicator: int) -> None:
        if len(payload) < 3 or indicator & 0x80:
            self._garbage()
            return
        header = payload[1]
        if header & 0x80:  # start
            if self._fu is not None:
                self.fu_errors += 1  # a new NAL began before the previous one ended
                self._garbage()
                return
            nal_header = BYTE[(indicator & 0xE0) | (header & 0x1F)]
            if header & 0x40:  # start and end in one packet: a camera quirk
                self._add_fragmented(nal_header + payload[2:])
            else:
                self._fu = [nal_header, payload[2:]]
            return
        fragments = self._fu
        if fragments is None:
            self.fu_errors += 1  # a continuation without a start, no loss to explain it
            self._garbage()
            return
        fragments.append(payload[2:])
        if header & 0x40:
            self._fu = None
            self._add_fragmented(b"".join(fragments))

    def _stap_a(self, payload: bytes) -> None:
        n = len(payload)
        off = 1
        while off < n:
            size = int.from_bytes(payload[off : off + 2], "big")
            off += 2
            if size == 0 and off > 3 and not payload[off:].strip(b"\x00"):
                return  # trailing zero padding after the last unit
            if size == 0 or off + size > n:
                self._garbage()
                return
            self._add(payload[off : off + size])
            off += size

    def starts_picture(self, payload: bytes) -> bool:
        kind = payload[0] & 0x1F
        n = len(payload)
        if kind == FU_A:
            if n < 3 or not payload[1] & 0x80:
                return False
            kind, following = payload[1] & 0x1F, payload[2]
        elif kind == STAP_A:
            if n < 4:
                return False
            kind, following = payload[3] & 0x1F, payload[4] if n > 4 else 0
        elif kind == 0:
            nals = split_annexb(payload)
            if not nals:
                return False
            kind, following = nals[0][0] & 0x1F, nals[0][1] if len(nals[0]) > 1 else 0
        else:
            following = payload[1] if n > 1 else 0
        if 1 <= kind <= NAL_IDR:
            # first_mb_in_slice is ue(v); it is 0 exactly when its first bit is 1.
            return bool(following & 0x80)
        return kind in _AU_OPENERS
