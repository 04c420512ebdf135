"""The SDP a simulated camera answers DESCRIBE with (one video track)."""

from __future__ import annotations

import base64

PAYLOAD_TYPE = 96
TRACK = "trackID=0"


def _b64(nal: bytes) -> str:
    return base64.b64encode(nal).decode("ascii")


def fmtp(codec: str, parameter_sets: tuple[bytes, ...]) -> str:
    if codec == "h264":
        sps = next((n for n in parameter_sets if n[0] & 0x1F == 7), b"")
        pps = [n for n in parameter_sets if n[0] & 0x1F == 8]
        sets = ",".join(_b64(n) for n in [sps, *pps] if n)
        profile = sps[1:4].hex() if len(sps) >= 4 else "42e01f"
        return f"packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={sets}"
    names = {32: "sprop-vps", 33: "sprop-sps", 34: "sprop-pps"}
    parts = []
    for nal_type, key in names.items():
        nals = [n for n in parameter_sets if (n[0] >> 1) & 0x3F == nal_type]
        if nals:
            parts.append(f"{key}={','.join(_b64(n) for n in nals)}")
    return ";".join(parts)


def build_sdp(
    *,
    name: str,
    codec: str,
    parameter_sets: tuple[bytes, ...],
    fps: float,
    bitrate: int,
    origin_host: str,
    session_version: int,
) -> bytes:
    encoding = "H264" if codec == "h264" else "H265"
    rate = f"{fps:g}"
    lines = [
        "v=0",
        f"o=- {session_version} 1 IN IP4 {origin_host}",
        f"s=camwatch sim {name}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=tool:camwatch-sim",
        "a=range:npt=0-",
        "a=control:*",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        f"b=AS:{max(1, bitrate // 1000)}",
        f"a=rtpmap:{PAYLOAD_TYPE} {encoding}/90000",
        f"a=fmtp:{PAYLOAD_TYPE} {fmtp(codec, parameter_sets)}",
        f"a=framerate:{rate}",
        f"a=control:{TRACK}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
