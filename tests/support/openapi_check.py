"""Checks a real response against the committed OpenAPI document."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@functools.cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(DOC_PATH.read_text())
    assert isinstance(loaded, dict)
    return loaded


def assert_matches(deployed_name: str, status: int, body: Any, *, method: str = "post") -> None:
    """Fails unless ``status`` is documented for the function and ``body`` fits its schema."""
    doc = document()
    operation = doc["paths"][f"/{deployed_name}"][method]
    documented = operation["responses"]
    assert str(status) in documented, f"{deployed_name} answered undocumented status {status}"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", DRAFT202012.create_resource(doc)
    )
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:openapi" + schema["$ref"]}, registry=registry
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{deployed_name} {status} does not match openapi.yaml: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors
    )
