"""Who is calling: a Firebase Auth ID token from ``Authorization: Bearer <token>``, verified with
PyJWT and Google's published certificates.

Firebase documents how to verify its ID tokens with any JWT library ("Verify ID tokens using a
third-party JWT library",
https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library):

- header: ``alg`` is ``RS256``; ``kid`` names one of the public keys published at
  ``https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com``
- payload: ``exp`` in the future; ``iat`` in the past; ``aud`` the Firebase project id;
  ``iss`` ``https://securetoken.google.com/<project id>``; ``sub`` a non-empty string (the uid);
  ``auth_time`` in the past
- the signature by the private key of that ``kid``; refresh the keys when the ``max-age`` of the
  endpoint's ``Cache-Control`` header has passed.

firebase-admin does the same through google-auth (and refuses a ``sub`` over 128 characters,
its limit on uids, as this does), but a browser function paid for importing it at every cold
start, and it re-parses Google's certificates on every verification. Here they are fetched and
parsed once per ``max-age``, so a verification is one RSA signature check (docs/performance.md).

With ``FIREBASE_AUTH_EMULATOR_HOST`` set (local runs only; the settings refuse it in a deployed
function) tokens are the emulator's unsigned ones: their claims are checked as firebase-admin
checked them in emulator mode (everything above but ``auth_time``), the signature cannot be, so a
token that claims one is refused.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from billing.errors import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    MISSING_TOKEN,
    Unauthenticated,
    UpstreamUnavailable,
)
from core import strict_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# Tolerated clock difference between Google's token issuer and this instance.
CLOCK_SKEW_SECONDS = 5
# Firebase ID tokens are about 1 KB; custom claims add at most 1,000 bytes.
MAX_TOKEN_CHARS = 8192
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Caller:
    uid: str
    email: str | None
    email_verified: bool


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Caller: ...


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(code=MISSING_TOKEN)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <Firebase ID token>'.", code=INVALID_TOKEN
        )
    return token


def _malformed() -> Unauthenticated:
    return Unauthenticated("The ID token is malformed.", code=INVALID_TOKEN)


def _segment(part: str) -> dict[str, Any]:
    if not _SEGMENT.match(part) or len(part) % 4 == 1:
        raise _malformed()
    try:
        decoded = strict_json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:  # binascii.Error and strict_json.InvalidJson are both ValueErrors
        raise _malformed() from None
    if not isinstance(decoded, dict):
        raise _malformed()
    return decoded


def parse_token(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWT's header and claims, unverified; 401 for anything that is not a sane JWT.

    Run before any other check of a token, in every mode: its JSON decoding raises
    ``RecursionError`` on deep nesting and accepts NaN, and neither may reach a caller as 500.
    Refusing lone surrogates here also keeps them out of uids and emails, which Firestore
    document ids and Stripe parameters cannot hold.
    """
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not _SEGMENT.match(parts[2]):
        raise _malformed()
    return _segment(parts[0]), _segment(parts[1])


CERTIFICATES_URL = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
ISSUER_PREFIX = "https://securetoken.google.com/"
# firebase-admin's limit on uids (and so on ``sub``); Firebase Auth never issues a longer one.
MAX_UID_CHARS = 128
# When the endpoint sends no usable max-age: Google rotates these keys every few hours and
# publishes each one well before signing with it, so a minute is cautious, not stale.
DEFAULT_MAX_AGE_SECONDS = 60.0
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)\s*(?:,|$)", re.IGNORECASE)

type FetchCertificates = Callable[[], tuple[dict[str, str], float]]


def fetch_certificates() -> tuple[dict[str, str], float]:
    """Google's securetoken certificates (key id -> PEM) and their max-age in seconds; any
    failure to get them is :class:`UpstreamUnavailable` (503: the caller may retry)."""
    import requests

    try:
        response = requests.get(CERTIFICATES_URL, timeout=(3.05, 5))
        response.raise_for_status()
        certificates = response.json()
    except (requests.RequestException, ValueError):
        raise UpstreamUnavailable("Could not fetch the keys that verify ID tokens.") from None
    if not isinstance(certificates, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in certificates.items()
    ):
        raise UpstreamUnavailable("The keys that verify ID tokens came back malformed.")
    return certificates, max_age(response.headers.get("Cache-Control", ""))


def max_age(cache_control: str) -> float:
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else DEFAULT_MAX_AGE_SECONDS


class PublicKeys:
    """Google's token-signing public keys by key id, fetched and parsed once per ``max-age``.

    One instance per function instance: its threads share the keys, and only one of them
    fetches when they expire (the others wait for it rather than fetch too)."""

    def __init__(
        self,
        fetch: FetchCertificates = fetch_certificates,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, RSAPublicKey] = {}
        self._expires = float("-inf")

    def get(self, kid: str) -> RSAPublicKey | None:
        if self._clock() >= self._expires:
            with self._lock:
                if self._clock() >= self._expires:
                    self._refresh()
        return self._keys.get(kid)

    def _refresh(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey as RSAKey

        certificates, seconds = self._fetch()
        keys: dict[str, RSAPublicKey] = {}
        for kid, pem in certificates.items():
            try:
                key = x509.load_pem_x509_certificate(pem.encode()).public_key()
            except ValueError:
                continue  # one unreadable certificate must not lock out tokens signed by others
            if isinstance(key, RSAKey):
                keys[kid] = key
        if not keys:
            raise UpstreamUnavailable("The keys that verify ID tokens came back malformed.")
        self._keys = keys
        self._expires = self._clock() + seconds


def _invalid(message: str = "The ID token is invalid.") -> Unauthenticated:
    return Unauthenticated(message, code=INVALID_TOKEN)


class FirebaseTokenVerifier:
    """Verifies Firebase ID tokens the way Firebase documents for third-party JWT libraries
    (see the module docstring); in emulator mode, the unsigned tokens of the Auth emulator."""

    def __init__(self, project_id: str, *, emulated: bool, keys: PublicKeys | None = None) -> None:
        self._project_id = project_id
        self._issuer = ISSUER_PREFIX + project_id
        self._emulated = emulated
        self._keys = keys or PublicKeys()

    def verify(self, token: str) -> Caller:
        header, claims = parse_token(token)
        if self._emulated:
            _check_emulator_token(header, signature=token.rpartition(".")[2])
        else:
            self._check_signature(token, header)
        self._check_claims(claims)
        email = claims.get("email")
        return Caller(
            uid=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
        )

    def _check_signature(self, token: str, header: dict[str, Any]) -> None:
        import jwt

        # Both checked before any key is fetched: a token we would refuse anyway never makes
        # this instance wait on Google.
        if header.get("alg") != "RS256":
            raise _invalid("The ID token is not signed with RS256.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("The ID token names no signing key (kid).")
        key = self._keys.get(kid)
        if key is None:
            raise _invalid("The ID token is signed with a key Google does not publish.")
        try:
            jwt.PyJWS().decode_complete(token, key, algorithms=["RS256"])
        except jwt.InvalidTokenError:
            raise _invalid("The ID token's signature does not verify.") from None

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = time.time()
        if claims.get("aud") != self._project_id:
            raise _invalid("The ID token is for another Firebase project (aud).")
        if claims.get("iss") != self._issuer:
            raise _invalid("The ID token was not issued by this Firebase project (iss).")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_UID_CHARS:
            raise _invalid("The ID token has no valid subject (sub).")
        exp, iat = claims.get("exp"), claims.get("iat")
        # Integers, as Firebase issues them: a float could be NaN or huge and never expire
        # (strict_json already refused NaN, Infinity and 1e400).
        if type(exp) is not int or type(iat) is not int:
            raise _invalid("The ID token has no valid exp/iat.")
        if exp <= now - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The ID token has expired.", code=EXPIRED_TOKEN)
        if iat > now + CLOCK_SKEW_SECONDS:
            raise _invalid("The ID token was issued in the future.")
        if not self._emulated:
            # The emulator mode is kept as firebase-admin had it, which never read auth_time.
            auth_time = claims.get("auth_time")
            if type(auth_time) is not int or auth_time > now + CLOCK_SKEW_SECONDS:
                raise _invalid("The ID token has no valid auth_time.")


def _check_emulator_token(header: dict[str, Any], *, signature: str) -> None:
    if header.get("alg") != "none" or signature:
        raise Unauthenticated(
            "The ID token carries a signature that cannot be verified locally.",
            code=INVALID_TOKEN,
        )
