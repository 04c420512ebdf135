"""H.265 RTP depacketizer (RFC 7798).

Packet forms: single NAL unit (types 0-47), aggregation packet AP (48) and
fragmentation unit FU (49). PACI packets (50) are counted in paci_packets and
ignored. DONL fields are not supported: they are present only when the SDP
says sprop-max-don-diff > 0, which no camera we know of does; such a stream
would be parsed as garbage and counted, never raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from .nal import BYTE, DEFAULT_MAX_AU_BYTES, AccessUnit, Depacketizer, split_annexb

__all__ = ["AccessUnit", "H265Depacketizer"]

NAL_VPS = 32
NAL_SPS = 33
NAL_PPS = 34
NAL_AUD = 35
NAL_PREFIX_SEI = 39
AP = 48
FU = 49
PACI = 50

# Types that may open an access unit ahead of its first slice (H.265 7.4.2.4.4).
_AU_OPENERS = frozenset({NAL_VPS, NAL_SPS, NAL_PPS, NAL_AUD, NAL_PREFIX_SEI, 41, 42, 43, 44})


class H265Depacketizer(Depacketizer):
    """See nal.Depacketizer for the tolerance rules and counters."""

    codec = "h265"
    _PARAM_TYPES = (NAL_VPS, NAL_SPS, NAL_PPS)
    _SPS_TYPE = NAL_SPS
    _PPS_TYPE = NAL_PPS
    _AUD_TYPE = NAL_AUD
    _SEI_TYPE = NAL_PREFIX_SEI
    _HEADER_LEN = 2
    _VCL_TYPES = frozenset(range(32))
    _KEY_TYPES = frozenset(range(16, 24))  # IRAP: BLA, IDR, CRA and reserved IRAP

    def __init__(
        self, sprop_nals: Sequence[bytes] = (), *, max_au_bytes: int = DEFAULT_MAX_AU_BYTES
    ) -> None:
        super().__init__(sprop_nals, max_au_bytes=max_au_bytes)
        self.paci_packets = 0

    @property
    def vps(self) -> bytes | None:
        """Latest VPS seen in-band (None until one arrives)."""
        return self._inband.get(NAL_VPS)

    @staticmethod
    def _type(nal: bytes) -> int:
        return (nal[0] >> 1) & 0x3F

    def _payload(self, payload: bytes) -> None:
        head = payload[0]
        if len(payload) < 2 or head & 0x80 or not payload[1] & 0x07:
            # F bit, TemporalId 0 or a lone byte: garbage, or a start code.
            if payload.startswith(b"\x00\x00"):
                self._add_annexb(payload)
            else:
                self._garbage()
            return
        kind = (head >> 1) & 0x3F
        if kind == FU:
            self._fragment(payload, head)
        elif kind < AP:
            self._add(payload)
        elif kind == AP:
            self._ap(payload)
        elif kind == PACI:
            self.paci_packets += 1
            self.packets_discarded += 1
        else:
            self._garbage()

    def _fragment(self, payload: bytes, head: int) -> None:
        if len(payload) < 4:
            self._garbage()
            return
        header = payload[2]
        if header & 0x80:  # start
            if self._fu is not None:
                self.fu_errors += 1
                self._garbage()
                return
            nal_header = BYTE[(head & 0x81) | ((header & 0x3F) << 1)] + payload[1:2]
            if header & 0x40:  # start and end in one packet: a camera quirk
                self._add_fragmented(nal_header + payload[3:])
            else:
                self._fu = [nal_header, payload[3:]]
            return
        fragments = self._fu
        if fragments is None:
            self.fu_errors += 1
            self._garbage()
            return
        fragments.append(payload[3:])
        if header & 0x40:
            self._fu = None
            self._add_fragmented(b"".join(fragments))

    def _ap(self, payload: bytes) -> None:
        n = len(payload)
        off = 2
        while off < n:
            size = int.from_bytes(payload[off : off + 2], "big")
            off += 2
            if size == 0 and off > 4 and not payload[off:].strip(b"\x00"):
                return  # trailing zero padding after the last unit
            if size < 2 or off + size > n:
                self._garbage()
                return
            self._add(payload[off : off + size])
            off += size

    def starts_picture(self, payload: bytes) -> bool:
        n = len(payload)
        if n < 3:
            return False
        kind = (payload[0] >> 1) & 0x3F
        if kind == FU:
            if n < 4 or not payload[2] & 0x80:
                return False
            kind, following = payload[2] & 0x3F, payload[3]
        elif kind == AP:
            if n < 7:
                return False
            kind, following = (payload[4] >> 1) & 0x3F, payload[6]
        elif payload.startswith(b"\x00\x00"):
            nals = split_annexb(payload)
            if not nals or len(nals[0]) < 3:
                return False
            kind, following = (nals[0][0] >> 1) & 0x3F, nals[0][2]
        else:
            following = payload[2]
        if kind < NAL_VPS:
            return bool(following & 0x80)  # first_slice_segment_in_pic_flag
        return kind in _AU_OPENERS
