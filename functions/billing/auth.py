"""Who is calling: a Firebase Auth ID token from ``Authorization: Bearer <token>``."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from billing.errors import Unauthenticated, UpstreamUnavailable
from core import strict_json

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
        raise Unauthenticated(code="missing_token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <Firebase ID token>'.", code="invalid_token"
        )
    return token


def _malformed() -> Unauthenticated:
    return Unauthenticated("The ID token is malformed.", code="invalid_token")


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

    Run before firebase-admin sees a token, in every mode: its JSON decoding raises
    ``RecursionError`` on deep nesting and accepts NaN, and neither may reach a caller as 500.
    Refusing lone surrogates here also keeps them out of uids and emails, which Firestore
    document ids and Stripe parameters cannot hold.
    """
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not _SEGMENT.match(parts[2]):
        raise _malformed()
    return _segment(parts[0]), _segment(parts[1])


class FirebaseTokenVerifier:
    """Verifies ID tokens with firebase-admin.

    In production firebase-admin checks the RS256 signature against Google's keys, the
    audience (project), issuer, subject and expiry. With ``FIREBASE_AUTH_EMULATOR_HOST`` set
    (local runs only; config refuses it when deployed) it skips the signature and the
    expiry, so this class then insists on the emulator's unsigned format and checks the
    times itself: a token that claims a signature cannot be checked and is refused.
    """

    def __init__(self, project_id: str, *, emulated: bool) -> None:
        # Loaded with the first verifier, not with this module: jobs and webhooks share the
        # HTTP layer but never verify an ID token.
        import firebase_admin

        self._emulated = emulated
        name = f"billing-auth-{project_id}"
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:
            self._app = firebase_admin.initialize_app(options={"projectId": project_id}, name=name)

    def verify(self, token: str) -> Caller:
        from firebase_admin import auth as firebase_auth

        header, claims = parse_token(token)
        if self._emulated:
            self._check_emulator_token(header, claims, signature=token.rpartition(".")[2])
        try:
            claims = firebase_auth.verify_id_token(
                token, app=self._app, clock_skew_seconds=CLOCK_SKEW_SECONDS
            )
        except firebase_auth.ExpiredIdTokenError:
            raise Unauthenticated("The ID token has expired.", code="expired_token") from None
        except firebase_auth.CertificateFetchError:
            raise UpstreamUnavailable("Could not fetch the keys that verify ID tokens.") from None
        except (firebase_auth.InvalidIdTokenError, ValueError, RecursionError):
            raise Unauthenticated("The ID token is invalid.", code="invalid_token") from None
        email = claims.get("email")
        return Caller(
            uid=str(claims["uid"]),
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
        )

    @staticmethod
    def _check_emulator_token(
        header: dict[str, Any], claims: dict[str, Any], *, signature: str
    ) -> None:
        if header.get("alg") != "none" or signature:
            raise Unauthenticated(
                "The ID token carries a signature that cannot be verified locally.",
                code="invalid_token",
            )
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat")
        # Integers, as Firebase issues them: a float could be NaN or huge and never expire
        # (strict_json already refused NaN, Infinity and 1e400).
        if type(exp) is not int or type(iat) is not int:
            raise Unauthenticated("The ID token has no valid exp/iat.", code="invalid_token")
        if exp <= now - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The ID token has expired.", code="expired_token")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The ID token was issued in the future.", code="invalid_token")
