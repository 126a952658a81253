"""Mints local tokens: Firebase ID tokens in the Auth emulator's format, and the OIDC tokens
the local stack's stand-in for Cloud Scheduler starts jobs with.

The Firebase Auth emulator issues unsigned tokens (``alg: none``) and the functions accept
them only while ``FIREBASE_AUTH_EMULATOR_HOST`` is set (billing.auth). Nothing deployed sets
it, so these tokens are worthless outside a local run.

A scheduler token is shaped as Google's OIDC token for a service account (``iss``
accounts.google.com, ``aud`` the function's URL, ``email`` the invoker account), signed RS256
by a key the stack makes at each start (``<state dir>/scheduler-key.pem``, readable by its owner
only); the functions get its public half as ``JOB_TOKEN_PUBLIC_KEY`` (billing.job_auth).

    python -m devstack.tokens --uid alice --email alice@example.com
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_PROJECT = "demo-billing"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_token(
    uid: str,
    email: str | None = None,
    *,
    project_id: str = DEFAULT_PROJECT,
    expires_in: int = 3600,
    issued_at: int | None = None,
    extra_claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    signature: str = "",
) -> str:
    """An unsigned ID token for ``uid``; ``extra_claims`` override the standard ones."""
    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "auth_time": now,
        "user_id": uid,
        "sub": uid,
        "iat": now,
        "exp": now + expires_in,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
    }
    if email is not None:
        claims["email"] = email
        claims["email_verified"] = True
        claims["firebase"]["identities"] = {"email": [email]}
    claims.update(extra_claims or {})
    head = header if header is not None else {"alg": "none", "typ": "JWT"}
    return f"{_b64(head)}.{_b64(claims)}.{signature}"


# What the stand-in scheduler's account is called: as Terraform names the job's invoker
# (infra/modules/account-ids) in a project of this id.
def scheduler_email(project_id: str, job: str = "reconcile", prefix: str = "billing") -> str:
    return f"{prefix}-{job}-invoker@{project_id}.iam.gserviceaccount.com"


def new_scheduler_key(path: Path) -> str:
    """A fresh RSA key: the private half written to ``path`` (mode 0600), the public returned
    as PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def mint_scheduler_token(
    audience: str,
    email: str,
    private_key_pem: bytes,
    *,
    expires_in: int = 3600,
    issued_at: int | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """An OIDC token as Cloud Scheduler sends one for ``email``, for the function at
    ``audience``, signed with the stack's scheduler key."""
    import jwt

    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "azp": "100000000000000000001",
        "sub": "100000000000000000001",
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + expires_in,
    }
    claims.update(extra_claims or {})
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"kid": "local"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uid", required=True)
    parser.add_argument("--email")
    parser.add_argument(
        "--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", DEFAULT_PROJECT)
    )
    parser.add_argument("--expires-in", type=int, default=3600, help="seconds")
    args = parser.parse_args()
    print(mint_token(args.uid, args.email, project_id=args.project, expires_in=args.expires_in))  # noqa: T201


if __name__ == "__main__":
    main()
