"""Redaction of credentials in URLs and free text.

Every URL that camwatch shows, logs or stores passes through `redact_url`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# scheme://user:pass@ or scheme://user@ : the userinfo part of any URL-like text.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]*)@")


def redact_url(url: str) -> str:
    """Return url with any password replaced by `***` (the user name is kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostport}" if user else f"***@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact the userinfo of every URL found inside text (log lines, errors)."""

    def _sub(m: re.Match[str]) -> str:
        user = m.group("userinfo").split(":", 1)[0]
        return f"{m.group('scheme')}{user}:***@" if user else f"{m.group('scheme')}***@"

    return _USERINFO.sub(_sub, text)
