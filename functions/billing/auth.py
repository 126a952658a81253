"""Who is calling: a Firebase Auth ID token from ``Authorization: Bearer <token>``."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from billing.errors import Unauthenticated, UpstreamUnavailable

# Tolerated clock difference between Google's token issuer and this instance.
CLOCK_SKEW_SECONDS = 5


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


def _segment(part: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, binascii.Error):
        raise Unauthenticated("The ID token is malformed.", code="invalid_token") from None
    if not isinstance(decoded, dict):
        raise Unauthenticated("The ID token is malformed.", code="invalid_token")
    return decoded


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

        if self._emulated:
            self._check_emulator_token(token)
        try:
            claims = firebase_auth.verify_id_token(
                token, app=self._app, clock_skew_seconds=CLOCK_SKEW_SECONDS
            )
        except firebase_auth.ExpiredIdTokenError:
            raise Unauthenticated("The ID token has expired.", code="expired_token") from None
        except firebase_auth.CertificateFetchError:
            raise UpstreamUnavailable("Could not fetch the keys that verify ID tokens.") from None
        except (firebase_auth.InvalidIdTokenError, ValueError):
            raise Unauthenticated("The ID token is invalid.", code="invalid_token") from None
        email = claims.get("email")
        return Caller(
            uid=str(claims["uid"]),
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
        )

    @staticmethod
    def _check_emulator_token(token: str) -> None:
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthenticated("The ID token is malformed.", code="invalid_token")
        header, claims = _segment(parts[0]), _segment(parts[1])
        if header.get("alg") != "none" or parts[2]:
            raise Unauthenticated(
                "The ID token carries a signature that cannot be verified locally.",
                code="invalid_token",
            )
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise Unauthenticated("The ID token has no valid exp/iat.", code="invalid_token")
        if exp <= now - CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The ID token has expired.", code="expired_token")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise Unauthenticated("The ID token was issued in the future.", code="invalid_token")
