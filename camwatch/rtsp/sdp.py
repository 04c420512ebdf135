"""Tolerant SDP parsing for RTSP DESCRIBE replies (sans-I/O).

Real cameras bend RFC 8866 in many ways: trailing blanks after values,
several `a=framerate` lines of which some are garbage, `m=` lines with a
non-numeric format, a Content-Base without a scheme or without the trailing
slash the camera itself relies on. The parser keeps what it can use and skips
what it cannot; it raises `SdpError` only when the text holds no media at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "MediaTrack",
    "SdpError",
    "SessionDescription",
    "base_url",
    "parse_sdp",
    "resolve_control",
]

MAX_SDP_CHARS = 256 * 1024  # far above any camera's SDP; bounds the work on garbage
VIDEO_ENCODINGS = ("H264", "H265")
_ENCODING_ALIASES = {"HEVC": "H265"}

# RFC 3551 static payload types a camera may use without an rtpmap line.
_STATIC_CLOCK_RATES = {
    0: 8000,  # PCMU
    3: 8000,
    4: 8000,
    5: 8000,
    6: 16000,
    7: 8000,
    8: 8000,  # PCMA
    9: 8000,
    10: 44100,
    11: 44100,
    12: 8000,
    13: 8000,
    14: 90000,
    15: 8000,
    16: 11025,
    17: 22050,
    18: 8000,
    25: 90000,
    26: 90000,  # JPEG
    28: 90000,
    31: 90000,
    32: 90000,
    33: 90000,
    34: 90000,
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# host[:port]/... without a scheme, as some live555-based firmwares send it.
_SCHEMELESS_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(/|$)")
_LEADING_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)")


class SdpError(ValueError):
    """The text is not an SDP session description with at least one medium."""


@dataclass(frozen=True, slots=True)
class MediaTrack:
    media: str  # "video" | "audio" | "application"
    payload_type: int
    encoding: str  # upper-case rtpmap name ("H264", "H265"...), "" without rtpmap
    clock_rate: int
    fmtp: Mapping[str, str]  # keys lower-cased, values stripped
    control: str  # absolute URL for SETUP, without credentials
    framerate: float | None = None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    tracks: tuple[MediaTrack, ...]
    session_control: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def video(self) -> MediaTrack | None:
        """The first H.264/H.265 video track (what camwatch decodes), if any."""
        for track in self.tracks:
            if track.media == "video" and track.encoding in VIDEO_ENCODINGS:
                return track
        return None


# --------------------------------------------------------------------------- URLs


def strip_userinfo(url: str) -> str:
    """url without user:password@ (credentials travel separately, never in URLs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))


def _header(headers: Mapping[str, object], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def base_url(request_url: str, headers: Mapping[str, str]) -> str:
    """The base for relative control URLs (RFC 2326 C.1.1), without credentials.

    Content-Base, else Content-Location, else the request URL. A header value
    without a scheme ("192.168.1.10:554/stream0/", seen on Anjvision) gets
    the request's scheme; an absolute path is taken on the request's host;
    anything else unusable falls back to the request URL.
    """
    request = strip_userinfo(request_url.strip())
    for name in ("content-base", "content-location"):
        value = _header(headers, name)
        if value is None:
            continue
        candidate = _absolute_base(value, request)
        if candidate is not None:
            return strip_userinfo(candidate)
    return request


def _absolute_base(value: str, request: str) -> str | None:
    if _SCHEME.match(value):
        return value
    if value.startswith("/"):
        return _join(request, value)
    if _SCHEMELESS_HOST.match(value):
        scheme = urlsplit(request).scheme or "rtsp"
        return f"{scheme}://{value}"
    return None


def resolve_control(base: str, control: str | None) -> str:
    """Absolute URL for a=control `control` relative to `base`.

    "*" or no control means the base itself; an absolute URL is used as is.
    A relative control is joined to the base's path with a "/" appended when
    missing: cameras send "Content-Base: rtsp://h/camera" and expect
    "rtsp://h/camera/trackID=1" (as ffmpeg, live555 and retina do), not the
    RFC 3986 result "rtsp://h/trackID=1".
    """
    control = (control or "").strip()
    if not control or control == "*":
        return strip_userinfo(base)
    if _SCHEME.match(control):
        return strip_userinfo(control)
    parts = urlsplit(base)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    dir_base = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return strip_userinfo(_join(dir_base, control))


def _join(base: str, ref: str) -> str:
    """RFC 3986 section 5.2 reference resolution, for any scheme (rtspt too)."""
    b = urlsplit(base)
    r = urlsplit(ref)
    if ref.startswith("//"):
        return urlunsplit((b.scheme, r.netloc, _remove_dots(r.path), r.query, r.fragment))
    if not r.path:
        query = r.query if ref.startswith("?") or r.query else b.query
        return urlunsplit((b.scheme, b.netloc, b.path, query, r.fragment))
    if r.path.startswith("/"):
        path = r.path
    else:
        base_dir = b.path.rpartition("/")[0] if "/" in b.path else ""
        path = f"{base_dir}/{r.path}"
    return urlunsplit((b.scheme, b.netloc, _remove_dots(path), r.query, r.fragment))


def _remove_dots(path: str) -> str:
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


# --------------------------------------------------------------------------- SDP


@dataclass(slots=True)
class _MediaBlock:
    media: str
    formats: list[str]
    is_rtp: bool
    attributes: list[tuple[str, str]] = field(default_factory=list)


def parse_sdp(text: str, base_url: str) -> SessionDescription:
    """Parse an SDP body; control URLs are resolved against `base_url`."""
    if not isinstance(text, str):
        raise SdpError(f"SDP must be text, got {type(text).__name__}")
    if len(text) > MAX_SDP_CHARS:
        raise SdpError(f"SDP too large ({len(text)} characters, limit {MAX_SDP_CHARS})")
    session_attrs: list[tuple[str, str]] = []
    blocks: list[_MediaBlock] = []
    for line in text.splitlines():
        line = line.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "m":
            blocks.append(_media_line(value))
        elif kind == "a":
            name, _, attr_value = value.partition(":")
            target = blocks[-1].attributes if blocks else session_attrs
            target.append((name.strip().lower(), attr_value.strip()))
    if not blocks:
        raise SdpError("no media (m=) line in the session description")
    base = strip_userinfo(base_url)
    session_control = _first(session_attrs, "control")
    tracks = tuple(t for b in blocks if (t := _track(b, base)) is not None)
    return SessionDescription(
        tracks=tracks,
        session_control=None if session_control is None else resolve_control(base, session_control),
        attributes=MappingProxyType({k: v for k, v in reversed(session_attrs)}),
    )


def _media_line(value: str) -> _MediaBlock:
    fields = value.split()
    # "m=application/TP-LINK 0 RTP/AVP smart/1/90000": keep the media kind only.
    media = fields[0].split("/")[0].lower() if fields else ""
    proto = fields[2].upper() if len(fields) > 2 else ""
    return _MediaBlock(media=media, formats=fields[3:], is_rtp="RTP" in proto)


def _first(attrs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in attrs if k == name), None)


def _payload_type(block: _MediaBlock) -> int | None:
    for fmt in block.formats[:1]:
        if fmt.isdigit() and int(fmt) < 128:
            return int(fmt)
    # Non-numeric format: use the only rtpmap line's type, if there is one.
    maps = [v.split(None, 1)[0] for k, v in block.attributes if k == "rtpmap" and v]
    if len(maps) == 1 and maps[0].isdigit() and int(maps[0]) < 128:
        return int(maps[0])
    return None


def _track(block: _MediaBlock, base: str) -> MediaTrack | None:
    if not block.is_rtp:
        return None
    pt = _payload_type(block)
    if pt is None:
        return None
    encoding, clock_rate = _rtpmap(block.attributes, pt)
    return MediaTrack(
        media=block.media,
        payload_type=pt,
        encoding=encoding,
        clock_rate=clock_rate,
        fmtp=MappingProxyType(_fmtp(block.attributes, pt)),
        control=resolve_control(base, _first(block.attributes, "control")),
        framerate=_framerate(block.attributes),
    )


def _for_pt(attrs: list[tuple[str, str]], name: str, pt: int) -> str | None:
    for key, value in attrs:
        if key != name:
            continue
        head, _, rest = value.partition(" ")
        if head.strip() == str(pt):
            return rest.strip()
    return None


def _rtpmap(attrs: list[tuple[str, str]], pt: int) -> tuple[str, int]:
    rtpmap = _for_pt(attrs, "rtpmap", pt)
    if not rtpmap:
        return "", _STATIC_CLOCK_RATES.get(pt, 0)
    name, _, rest = rtpmap.partition("/")
    encoding = name.strip().upper()
    encoding = _ENCODING_ALIASES.get(encoding, encoding)
    rate = rest.split("/", 1)[0].strip()
    clock_rate = int(rate) if rate.isdigit() else _STATIC_CLOCK_RATES.get(pt, 0)
    return encoding, clock_rate


def _fmtp(attrs: list[tuple[str, str]], pt: int) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in (_for_pt(attrs, "fmtp", pt) or "").split(";"):
        key, _, value = item.partition("=")  # values keep later "=" (base64 padding)
        key = key.strip().lower()
        if key:
            params[key] = value.strip()
    return params


def _framerate(attrs: list[tuple[str, str]]) -> float | None:
    # Cameras repeat the attribute with junk ("0S" then "25"): the last sane value wins.
    found: float | None = None
    for name in ("x-framerate", "framerate"):
        for key, value in attrs:
            m = _LEADING_NUMBER.match(value) if key == name else None
            if m and 0 < float(m.group(1)) <= 1000:
                found = float(m.group(1))
    return found
