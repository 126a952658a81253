"""Who may start a job: Cloud Scheduler's OIDC token for the job's own invoker account.

In production Cloud Scheduler sends ``Authorization: Bearer <Google-signed ID token>`` whose
``aud`` is the function's URL and whose ``email`` is the job's invoker service account
(infra/scheduler.tf). Cloud Run admits the request only if that token verifies and names an
account granted ``roles/run.invoker`` on the function (only the invoker is), and then "removes
the token signature before passing the token to the user container" (Cloud Run's
service-to-service authentication page, quoted in
https://github.com/owainlewis/machinist/pull/277): the function cannot check Google's signature
again, and does not need to.

Locally nothing stands in front of the functions, so the function checks the signature itself:
the local stack signs the scheduler's tokens with a key of its own (``devstack.tokens``) and
gives the functions its public half in ``JOB_TOKEN_PUBLIC_KEY``, a setting a deployed function
refuses (K_SERVICE). Everything else is checked the same way in both places, here: the issuer
is Google's, the audience is this function's URL, the token is current, and its ``email`` is
``JOB_INVOKER_EMAIL``, verified. A Firebase user's token, signed or not, is none of these.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from billing.auth import CLOCK_SKEW_SECONDS, parse_token
from billing.errors import (
    EXPIRED_TOKEN,
    FORBIDDEN,
    INVALID_TOKEN,
    MISSING_TOKEN,
    Forbidden,
    Unauthenticated,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from billing.config import BillingSettings

# What Google's OIDC tokens for service accounts carry as ``iss`` (both forms are issued).
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
_NEEDED = "A job runs only for Cloud Scheduler's OIDC token (Authorization: Bearer <token>)."


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, code=INVALID_TOKEN)


@functools.cache
def _public_key(pem: str) -> RSAPublicKey:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey as RSAKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(pem.encode())
    if not isinstance(key, RSAKey):
        raise ValueError("JOB_TOKEN_PUBLIC_KEY is not an RSA public key")
    return key


def verify_scheduler(settings: BillingSettings, authorization: str | None, host: str) -> str:
    """The invoker account's email when ``authorization`` carries its token for the function
    at ``host``; 401 for a missing or invalid token, 403 for another identity's."""
    if not authorization:
        raise Unauthenticated(_NEEDED, code=MISSING_TOKEN)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(_NEEDED, code=INVALID_TOKEN)
    header, claims = parse_token(token)
    if not settings.deployed:
        _check_local_signature(settings, token, header)
    _check_claims(claims, host)
    email = claims.get("email")
    if email != settings.job_invoker() or claims.get("email_verified") is not True:
        # Authenticated, but not as the scheduler: a user's token, another account's.
        raise Forbidden("Only the job's scheduler may start it.", code=FORBIDDEN)
    return str(email)


def _check_local_signature(settings: BillingSettings, token: str, header: dict[str, Any]) -> None:
    import jwt

    pem = settings.job_token_public_key
    if pem is None:
        # Fail closed: without the key no local token can be checked, so none is accepted.
        raise _invalid("No key to check the scheduler's token with (JOB_TOKEN_PUBLIC_KEY).")
    if header.get("alg") != "RS256":
        raise _invalid("The token is not signed with RS256.")
    try:
        jwt.PyJWS().decode_complete(token, _public_key(pem), algorithms=["RS256"])
    except jwt.InvalidTokenError:
        raise _invalid("The token's signature does not verify.") from None


def _check_claims(claims: dict[str, Any], host: str) -> None:
    now = time.time()
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise _invalid("The token was not issued by Google (iss).")
    audience = claims.get("aud")
    # Cloud Scheduler's audience is the function's URL (infra/scheduler.tf), and that URL is
    # how the request reached this function: the same host, whatever the path.
    if not isinstance(audience, str) or urlsplit(audience).netloc.lower() != host.lower():
        raise _invalid("The token is for another audience (aud).")
    exp, iat = claims.get("exp"), claims.get("iat")
    if type(exp) is not int or type(iat) is not int:
        raise _invalid("The token has no valid exp/iat.")
    if exp <= now - CLOCK_SKEW_SECONDS:
        raise Unauthenticated("The token has expired.", code=EXPIRED_TOKEN)
    if iat > now + CLOCK_SKEW_SECONDS:
        raise _invalid("The token was issued in the future.")
