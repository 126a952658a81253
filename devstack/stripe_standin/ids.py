"""Identifiers in Stripe's style: a prefix and a random alphanumeric suffix."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits

# Suffix lengths as Stripe issues them today (customers and items are short, most others 24).
_LENGTHS = {"cus": 14, "si": 14, "req": 14, "prod": 14}


def random_string(length: int, alphabet: str = _ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_string(_LENGTHS.get(prefix, 24))}"


def client_secret(object_id: str) -> str:
    return f"{object_id}_secret_{random_string(25)}"


def invoice_prefix() -> str:
    return random_string(8, _UPPER)


def fingerprint() -> str:
    return random_string(16)
