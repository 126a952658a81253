"""Mints local Firebase ID tokens in the Auth emulator's format.

The Firebase Auth emulator issues unsigned tokens (``alg: none``) and the functions accept
them only while ``FIREBASE_AUTH_EMULATOR_HOST`` is set (billing.auth). Nothing deployed sets
it, so these tokens are worthless outside a local run.

    python -m devstack.tokens --uid alice --email alice@example.com
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
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
