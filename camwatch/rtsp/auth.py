"""RTSP authentication that prefers Digest and speaks RFC 2617 qop=auth.

aiortsp picks Basic whenever a camera offers both (sending the password in
clear) and implements only RFC 2069 Digest. These classes plug into aiortsp's
`Auth` interface and fix both.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping

from aiortsp.rtsp.auth import Auth, BasicAuth

from .headers import Challenge, parse_www_authenticate

_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}


class DigestAuth(Auth):
    """RFC 2617 Digest (MD5 or SHA-256; qop=auth when offered)."""

    def __init__(self, username: str, password: str, challenge: Challenge) -> None:
        super().__init__(max_retry=1)
        self.username = username
        self._password = password
        self._challenge = challenge
        self._nc = 0

    def handle_401(self, headers: Mapping[str, object]) -> bool:
        fresh = _pick(parse_www_authenticate(_header_values(headers)), "digest")
        if fresh is not None:
            stale = fresh.params.get("stale", "").lower() == "true"
            self._challenge = fresh
            self._nc = 0
            if stale:  # nonce expired: the password was right, retry without counting
                return True
        return super().handle_401(headers)

    def make_auth(self, method: str, url: str, headers: dict[str, object]) -> None:
        headers["Authorization"] = self.authorization(method, url)

    def authorization(self, method: str, url: str, cnonce: str | None = None) -> str:
        p = self._challenge.params
        algorithm = p.get("algorithm", "MD5").upper()
        digest = _HASHES.get(algorithm, hashlib.md5)

        def h(text: str) -> str:
            return digest(text.encode("utf-8")).hexdigest()

        realm, nonce = p.get("realm", ""), p.get("nonce", "")
        ha1 = h(f"{self.username}:{realm}:{self._password}")
        ha2 = h(f"{method}:{url}")
        fields = {"username": self.username, "realm": realm, "nonce": nonce, "uri": url}
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._nc += 1
            nc = f"{self._nc:08x}"
            cnonce = cnonce or os.urandom(8).hex()
            fields["response"] = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts = [f'{k}="{v}"' for k, v in fields.items()]
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            fields["response"] = h(f"{ha1}:{nonce}:{ha2}")
            parts = [f'{k}="{v}"' for k, v in fields.items()]
        if "opaque" in p:
            parts.append(f'opaque="{p["opaque"]}"')
        if "algorithm" in p:
            parts.append(f"algorithm={p['algorithm']}")
        return "Digest " + ", ".join(parts)


def choose_auth(headers: Mapping[str, object], username: str, password: str) -> Auth | None:
    """Digest whenever offered; Basic only when it is all the camera offers."""
    challenges = parse_www_authenticate(_header_values(headers))
    digest = _pick(challenges, "digest")
    if digest is not None:
        return DigestAuth(username, password, digest)
    if _pick(challenges, "basic") is not None:
        return BasicAuth(username, password)
    return None


def offered_schemes(headers: Mapping[str, object]) -> list[str]:
    return [c.scheme for c in parse_www_authenticate(_header_values(headers))]


def _pick(challenges: list[Challenge], scheme: str) -> Challenge | None:
    return next((c for c in challenges if c.scheme == scheme), None)


def _header_values(headers: Mapping[str, object]) -> list[str]:
    value = headers.get("www-authenticate")
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
