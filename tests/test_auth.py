from aiortsp.rtsp.auth import BasicAuth

from camwatch.rtsp.auth import DigestAuth, choose_auth
from camwatch.rtsp.headers import Challenge

DIGEST = 'Digest realm="cam", nonce="abc123", qop="auth"'
BASIC = 'Basic realm="cam"'


def test_digest_preferred_whatever_the_order() -> None:
    for offer in ([BASIC, DIGEST], [DIGEST, BASIC]):
        auth = choose_auth({"www-authenticate": offer}, "u", "p")
        assert isinstance(auth, DigestAuth), offer


def test_basic_only_when_alone() -> None:
    assert isinstance(choose_auth({"www-authenticate": BASIC}, "u", "p"), BasicAuth)
    assert choose_auth({}, "u", "p") is None


def test_rfc2617_worked_example() -> None:
    # RFC 2617 §3.5: the response for this exchange is 6629fae49393a05397450978507c4ef1.
    ch = Challenge(
        "digest",
        {
            "realm": "testrealm@host.com",
            "qop": "auth,auth-int",
            "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
        },
    )
    header = DigestAuth("Mufasa", "Circle Of Life", ch).authorization(
        "GET", "/dir/index.html", "0a4f113b"
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "nc=00000001" in header and 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


def test_rfc2069_without_qop() -> None:
    import hashlib

    ch = Challenge("digest", {"realm": "r", "nonce": "n"})
    header = DigestAuth("u", "p", ch).authorization("DESCRIBE", "rtsp://h/s")
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    expected = md5(f"{md5('u:r:p')}:n:{md5('DESCRIBE:rtsp://h/s')}")
    assert f'response="{expected}"' in header and "qop" not in header


def test_stale_nonce_retries_without_counting() -> None:
    auth = DigestAuth("u", "p", Challenge("digest", {"realm": "r", "nonce": "n1"}))
    stale = {"www-authenticate": 'Digest realm="r", nonce="n2", stale=true'}
    assert auth.handle_401(stale) and auth.handle_401(stale)
    assert 'nonce="n2"' in auth.authorization("PLAY", "rtsp://h/s")
    wrong = {"www-authenticate": 'Digest realm="r", nonce="n3"'}
    assert auth.handle_401(wrong) is True  # first real refusal: one retry
    assert auth.handle_401(wrong) is False  # second: give up (wrong password)
