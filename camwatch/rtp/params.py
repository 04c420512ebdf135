"""Parameter sets announced in the SDP fmtp line (RFC 6184 / RFC 7798).

Cameras write these sloppily: missing or odd base64 padding, spaces after
commas, start codes inside the base64, mixed-case keys. Everything decodable is
returned; undecodable entries are skipped (a stream still works with in-band
parameter sets).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from .nal import split_annexb

__all__ = ["h264_sprop_nals", "h265_sprop_nals"]


def h264_sprop_nals(fmtp: Mapping[str, str]) -> list[bytes]:
    """SPS/PPS NAL units (with header) from 'sprop-parameter-sets'."""
    return _nals(_get(fmtp, "sprop-parameter-sets"))


def h265_sprop_nals(fmtp: Mapping[str, str]) -> list[bytes]:
    """VPS, SPS, PPS NAL units (with header), in that order, from sprop-vps/sps/pps."""
    nals: list[bytes] = []
    for key in ("sprop-vps", "sprop-sps", "sprop-pps"):
        nals.extend(_nals(_get(fmtp, key)))
    return nals


def _get(fmtp: Mapping[str, str], key: str) -> str:
    value = fmtp.get(key)
    if value is None:
        for k, v in fmtp.items():
            if k.strip().lower() == key:
                value = v
                break
    return value if isinstance(value, str) else ""


def _nals(value: str) -> list[bytes]:
    nals: list[bytes] = []
    for item in value.split(","):
        raw = _b64(item)
        if raw:
            nals.extend(n for n in split_annexb(raw) if not n[0] & 0x80)
    return nals


def _b64(text: str) -> bytes:
    compact = "".join(text.split()).rstrip("=").translate(_URLSAFE)
    if len(compact) % 4 == 1:
        return b""  # no padding can make this whole: not base64
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        return b""


_URLSAFE = str.maketrans("-_", "+/")
