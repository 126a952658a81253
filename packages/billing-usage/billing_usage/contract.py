"""The usage message, ``schemas/usage.v1.json``, built and checked before it is published.

Plain checks rather than a JSON Schema validator, so a service that installs this package pays
for no validator at import; ``tests/unit/billing/usage/test_contract.py`` runs these checks, the
metering function's model and the schema on the same messages and requires one verdict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

VERSION = 1
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
METER = re.compile(r"^[a-z][a-z0-9_.]{0,99}$")
MAX_VALUE = 1_000_000_000
MAX_SUBJECT = 128


class InvalidUsage(ValueError):
    """A usage report the contract refuses; the message names the field and the rule."""


@dataclass(frozen=True)
class UsageReport:
    id: str
    subject: str
    meter: str
    value: int
    timestamp: int

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not ID.match(self.id):
            raise InvalidUsage(
                "id: 1 to 100 letters, digits, '_', '.', ':' or '-', starting with a letter or "
                "digit (derive it from the unit of work, so a retried report has the same id)"
            )
        if (
            not isinstance(self.subject, str)
            or not 1 <= len(self.subject) <= MAX_SUBJECT
            or "/" in self.subject
        ):
            raise InvalidUsage("subject: 1 to 128 characters, no '/'")
        if not isinstance(self.meter, str) or not METER.match(self.meter):
            raise InvalidUsage("meter: a meter event name (lower case, digits, '_' and '.')")
        if (
            isinstance(self.value, bool)
            or not isinstance(self.value, int)
            or not 1 <= self.value <= MAX_VALUE
        ):
            raise InvalidUsage(f"value: a whole number from 1 to {MAX_VALUE}")
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int):
            raise InvalidUsage("timestamp: Unix seconds, a whole number")
        if self.timestamp < 0:
            raise InvalidUsage("timestamp: Unix seconds, not negative")

    def document(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "id": self.id,
            "subject": self.subject,
            "meter": self.meter,
            "value": self.value,
            "timestamp": self.timestamp,
        }

    def data(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()

    def attributes(self) -> dict[str, str]:
        # Repeated as attributes so a subscription can filter by meter without parsing data.
        return {"version": str(VERSION), "id": self.id, "meter": self.meter}
