"""Tolerant parsers for RTSP response headers (sans-I/O).

Cameras pad values with blanks ("Session:        708345999"), leave trailing
separators ("...;rtptime=0;"), quote some parameters (mode="play") and put
several challenges in one WWW-Authenticate header. These parsers accept all
of that; they raise `HeaderError` only where a value is unusable, and never
any other exception on text input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "Challenge",
    "HeaderError",
    "RawResponse",
    "parse_port_range",
    "parse_response",
    "parse_rtp_info",
    "parse_session",
    "parse_transport",
    "parse_www_authenticate",
]

MAX_HEADER_CHARS = 16 * 1024  # per header value; a longer one is garbage or an attack
MAX_RESPONSE_BYTES = 1024 * 1024

_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"?'  # an unterminated quote runs to the end
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_QUOTED}|[^,\s]*)")
_SCHEME_START = re.compile(rf"\s*({_TOKEN})(?=\s|$)")
_TOKEN68 = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")
_STATUS_LINE = re.compile(r"^RTSP/(\d+\.\d+)\s+(\d{3})(?:\s+(.*))?$")


class HeaderError(ValueError):
    """A header or response is malformed beyond what the parsers tolerate."""


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "basic" | "digest" | any other scheme, lower-case
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # params keys are lower-case (realm, nonce, opaque, algorithm, qop, stale);
    # a token68 credential (e.g. Negotiate) is kept under the key "token68".


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    reason: str
    headers: Mapping[str, str | list[str]]  # lower-case keys; repeated headers as a list
    body: str

    def header(self, name: str) -> str | None:
        """First value of header `name` (any case), or None."""
        value = self.headers.get(name.lower())
        if isinstance(value, list):
            return value[0] if value else None
        return value

    def header_values(self, name: str) -> list[str]:
        value = self.headers.get(name.lower())
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------- WWW-Authenticate


def parse_www_authenticate(values: str | Sequence[str]) -> list[Challenge]:
    """Challenges from one or several WWW-Authenticate header values (RFC 7235).

    One value may hold several challenges ("Basic realm="a", Digest realm="a",
    nonce="n"") and quoted strings may hold commas. Parameters separated by
    blanks instead of commas (seen on cheap firmware) are accepted too.
    Unparseable fragments are skipped.
    """
    if isinstance(values, str):
        values = [values]
    challenges: list[Challenge] = []
    for value in values:
        if isinstance(value, str):
            challenges.extend(_challenges(value[:MAX_HEADER_CHARS]))
    return challenges


def _challenges(value: str) -> list[Challenge]:
    found: list[tuple[str, dict[str, str]]] = []
    for item in _split_commas(value):
        if not item.strip():
            continue
        if _PARAM.match(item) is None or _is_scheme_then_params(item):
            m = _SCHEME_START.match(item)
            if m is None:
                continue
            params: dict[str, str] = {}
            found.append((m.group(1).lower(), params))
            rest = item[m.end() :].strip()
            if _TOKEN68.match(rest) or (rest and _PARAM.match(rest) is None):
                params["token68"] = rest
            elif rest:
                params.update(_params(rest))
        elif found:
            found[-1][1].update(_params(item))
    return [Challenge(s, MappingProxyType(p)) for s, p in found]


def _is_scheme_then_params(item: str) -> bool:
    # "Digest realm=..." starts with a token followed by a blank, not by "=".
    m = _SCHEME_START.match(item)
    return m is not None and not item[m.end() :].lstrip().startswith("=")


def _params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _PARAM.match(text, pos)
        if m is None:
            break
        params[m.group(1).lower()] = _unquote(m.group(2))
        pos = m.end()
        while pos < len(text) and text[pos] in ", \t":
            pos += 1
    return params


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value.strip()
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return re.sub(r"\\(.)", r"\1", inner)


def _split_commas(value: str) -> list[str]:
    """Split on commas outside double quotes."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return items


# --------------------------------------------------------- Session, Transport, RTP-Info


def parse_session(value: str) -> tuple[str, int | None]:
    """ "12345678;timeout=60" -> ("12345678", 60). Timeout is None if absent or bad.

    Raises HeaderError when there is no session id at all.
    """
    session_id, _, rest = str(value)[:MAX_HEADER_CHARS].partition(";")
    session_id = session_id.strip()
    if not session_id:
        raise HeaderError(f"Session header has no session id: {value!r}")
    timeout: int | None = None
    for item in rest.split(";"):
        key, _, val = item.partition("=")
        if key.strip().lower() == "timeout":
            val = val.strip().strip('"')
            timeout = int(val) if val.isdigit() and 0 < int(val) <= 86400 else None
    return session_id, timeout


def parse_transport(value: str) -> dict[str, str | None]:
    """Parameters of the first transport-spec in a Transport header.

    "RTP/AVP/TCP;unicast;interleaved=0-1;mode="play"" ->
    {"protocol": "RTP/AVP/TCP", "unicast": None, "interleaved": "0-1", "mode": "play"}.
    Keys are lower-case; flags map to None; quotes are removed.
    """
    first = _split_commas(str(value)[:MAX_HEADER_CHARS])[0]
    items = [item.strip() for item in first.split(";")]
    result: dict[str, str | None] = {}
    if items and items[0] and "=" not in items[0]:
        result["protocol"] = items.pop(0).upper()
    for item in items:
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.strip().lower()
        if key:
            result[key] = _unquote(val.strip()) if sep else None
    return result


def parse_port_range(value: str | None) -> tuple[int, int] | None:
    """ "0-1" -> (0, 1); "5000" -> (5000, 5001); None or garbage -> None."""
    if not value:
        return None
    low, sep, high = value.strip().partition("-")
    if not low.strip().isdigit() or (sep and not high.strip().isdigit()):
        return None
    first = int(low)
    second = int(high) if sep else first + 1
    return (first, second) if 0 <= first <= 65535 and 0 <= second <= 65535 else None


_RTP_INFO_SPLIT = re.compile(r",\s*(?=url\s*=)", re.IGNORECASE)


def parse_rtp_info(value: str) -> list[dict[str, str]]:
    """Entries of an RTP-Info header: [{"url": ..., "seq": ..., "rtptime": ...}, ...].

    Entries are split only before "url=" so a comma inside a URL survives.
    Values stay strings (url may be relative to the base URL); keys are lower-case.
    """
    entries: list[dict[str, str]] = []
    for chunk in _RTP_INFO_SPLIT.split(str(value)[:MAX_HEADER_CHARS]):
        entry: dict[str, str] = {}
        for item in chunk.split(";"):
            key, sep, val = item.partition("=")
            key = key.strip().lower()
            if key and sep:
                entry[key] = val.strip()
        if entry:
            entries.append(entry)
    return entries


# ------------------------------------------------------------------ whole response


def parse_response(raw: bytes) -> RawResponse:
    """Parse one complete RTSP response (status line, headers, blank line, body).

    For tests and diagnostics. The body is cut at Content-Length when that is
    present and smaller than what follows. Raises HeaderError on a missing or
    malformed status line.
    """
    if len(raw) > MAX_RESPONSE_BYTES:
        raise HeaderError(f"response too large ({len(raw)} bytes)")
    head, body = _split_head(raw)
    lines = head.decode("utf-8", errors="replace").splitlines()
    if not lines:
        raise HeaderError("empty response")
    m = _STATUS_LINE.match(lines[0].strip())
    if m is None:
        raise HeaderError(f"not an RTSP status line: {lines[0][:80]!r}")
    headers = _header_lines(lines[1:])
    length = headers.get("content-length")
    if isinstance(length, str) and length.strip().isdigit():
        body = body[: int(length)]
    return RawResponse(
        status=int(m.group(2)),
        reason=(m.group(3) or "").strip(),
        headers=MappingProxyType(headers),
        body=body.decode("utf-8", errors="replace"),
    )


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return raw[:index], raw[index + len(sep) :]
    return raw, b""


def _header_lines(lines: list[str]) -> dict[str, str | list[str]]:
    merged: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and merged:  # obsolete line folding
            name, value = merged[-1]
            merged[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip():
            merged.append((name.strip().lower(), value.strip()))
    headers: dict[str, str | list[str]] = {}
    for name, value in merged:
        previous = headers.get(name)
        if previous is None:
            headers[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            headers[name] = [previous, value]
    return headers
