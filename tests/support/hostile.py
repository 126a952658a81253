"""Inputs that once made a function answer 500, hang, or accept what it should not."""

from __future__ import annotations

import base64
import time

from billing.auth import MAX_TOKEN_CHARS

PROJECT = "demo-billing"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def raw_claims(text: str) -> str:
    """An emulator-format token whose claims segment is exactly ``text``."""
    return f"{_b64(b'{"alg":"none","typ":"JWT"}')}.{_b64(text.encode())}."


def claims_with(project: str = PROJECT, **raw: str) -> str:
    """A valid emulator token's claims with some values replaced by raw JSON text."""
    now = int(time.time())
    fields = {
        "iss": f'"https://securetoken.google.com/{project}"',
        "aud": f'"{project}"',
        "sub": '"alice"',
        "iat": str(now),
        "exp": str(now + 3600),
    } | raw
    return raw_claims("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}")


NESTED = b"[" * 2000 + b"]" * 2000
# Tokens no verifier may answer with anything but 401 (each once gave 500 or never expired).
HOSTILE_TOKENS = {
    "nested header": f"{_b64(NESTED)}.{_b64(b'{}')}.",
    "nested claims": f"{_b64(b'{"alg":"none"}')}.{_b64(NESTED)}.",
    "nested, signed-looking": f"{_b64(NESTED)}.{_b64(NESTED)}.c2ln",
    "5000-digit claim": claims_with(exp="9" * 5000),
    "exp NaN": claims_with(exp="NaN"),
    "exp Infinity": claims_with(exp="Infinity"),
    "exp 1e400": claims_with(exp="1e400"),
    "exp not an integer": claims_with(exp=str(time.time() + 3600)),
    "exp a boolean": claims_with(exp="true"),
    "iat NaN": claims_with(iat="NaN"),
    "iat -Infinity": claims_with(iat="-Infinity"),
    "uid a lone surrogate": claims_with(sub='"\\ud800x"'),
    "email a lone surrogate": claims_with(email='"\\udc00@example.com"'),
    "not base64url": "eyJhbGciOiJub25lIn0!.e30.",
    "too long": "a" * MAX_TOKEN_CHARS + ".e30.",
    "claims not an object": f"{_b64(b'{"alg":"none"}')}.{_b64(b'[1]')}.",
}
