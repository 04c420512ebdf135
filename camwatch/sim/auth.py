"""Server-side HTTP Digest authentication for RTSP (RFC 2617, MD5).

Accepts responses with qop=auth (RFC 2617) and without qop (RFC 2069, what
many camera clients send). Nonces are stateless: a timestamp signed with a
per-server secret, valid for `lifetime` seconds; an expired but genuine nonce
gets `stale=TRUE` so the client retries without asking for a password again.
Nonce counts are not tracked: the sim is a test fixture, not a vault.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


class AuthResult(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # no Authorization header, or not Digest
    BAD = "bad"  # wrong user, password, realm or malformed
    STALE = "stale"  # right password, expired nonce


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def parse_digest(header: str) -> dict[str, str] | None:
    """The parameters of a `Digest ...` Authorization header, or None."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            return None
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[match.group(1).lower()] = value
        pos = match.end()
    return params


class DigestAuthority:
    """Issues challenges and checks Digest responses for one server."""

    def __init__(
        self,
        realm: str = "camwatch-sim",
        lifetime: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.realm = realm
        self.lifetime = lifetime
        self._clock = clock
        self._secret = secrets.token_bytes(16)

    def nonce(self) -> str:
        stamp = f"{int(self._clock() * 1000):x}"
        return f"{stamp}{self._sign(stamp)}"

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def _nonce_state(self, nonce: str) -> AuthResult:
        stamp, signature = nonce[:-24], nonce[-24:]
        if not stamp or not hmac.compare_digest(signature, self._sign(stamp)):
            return AuthResult.BAD
        try:
            issued = int(stamp, 16) / 1000
        except ValueError:
            return AuthResult.BAD
        return AuthResult.OK if self._clock() - issued <= self.lifetime else AuthResult.STALE

    def challenge(self, stale: bool = False, qop: bool = False) -> str:
        """The value of a WWW-Authenticate header."""
        parts = [f'realm="{self.realm}"', f'nonce="{self.nonce()}"', "algorithm=MD5"]
        if qop:
            parts.append('qop="auth"')
        if stale:
            parts.append("stale=TRUE")
        return "Digest " + ", ".join(parts)

    def check(self, method: str, header: str | None, creds: Credentials) -> AuthResult:
        if not header:
            return AuthResult.MISSING
        params = parse_digest(header)
        if params is None:
            return AuthResult.MISSING
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in params for k in needed):
            return AuthResult.BAD
        if params["username"] != creds.user or params["realm"] != self.realm:
            return AuthResult.BAD
        expected = self._expected(method, params, creds)
        if expected is None or not hmac.compare_digest(expected, params["response"].lower()):
            return AuthResult.BAD
        return self._nonce_state(params["nonce"])

    def _expected(self, method: str, p: dict[str, str], creds: Credentials) -> str | None:
        algorithm = p.get("algorithm", "MD5").upper()
        ha1 = _md5(f"{creds.user}:{self.realm}:{creds.password}")
        if algorithm == "MD5-SESS":
            if "cnonce" not in p:
                return None
            ha1 = _md5(f"{ha1}:{p['nonce']}:{p['cnonce']}")
        elif algorithm != "MD5":
            return None
        ha2 = _md5(f"{method}:{p['uri']}")
        qop = p.get("qop")
        if qop is None:
            return _md5(f"{ha1}:{p['nonce']}:{ha2}")
        if qop != "auth" or "nc" not in p or "cnonce" not in p:
            return None
        return _md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{qop}:{ha2}")
