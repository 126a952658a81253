"""The OpenAPI 3.1 document of every HTTP function, generated from the pydantic models.

``python -m tools.openapi > openapi.yaml`` (run by ``make openapi``) rewrites the committed
document; a test fails when the two differ, and the integration tests validate real
responses against it, so the document cannot drift from what the functions answer.
"""

from __future__ import annotations

import sys
import typing
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app import registry
from app.registry import FunctionDef
from billing.errors import ERROR_CODES, STATUSES, ErrorCode

REF = "#/components/schemas/{model}"

# The operation-specific statuses: a function's registry row lists those it may answer
# (``FunctionDef.errors``); every other status of a browser code, every function may answer.
SPECIFIC_STATUSES = frozenset({402, 404, 409})


def browser_codes() -> list[ErrorCode]:
    """Every code a browser function may answer (``billing.errors``: one declared list)."""
    return [error for error in ERROR_CODES if error.audience in ("browser", "any")]


def describe(status: int) -> str:
    """A status's meaning and its codes, from the declared list."""
    codes = ", ".join(f"`{error.code}`" for error in browser_codes() if error.status == status)
    return f"{STATUSES[status]} Codes: {codes}."


COMMON_ERRORS: dict[int, str] = {
    status: describe(status)
    for status in sorted({error.status for error in browser_codes()} - SPECIFIC_STATUSES)
}
SPECIFIC_ERRORS: dict[int, str] = {status: describe(status) for status in sorted(SPECIFIC_STATUSES)}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable, machine-readable (docs/reference/errors.md).",
                    "enum": sorted(error.code for error in browser_codes()),
                },
                "message": {"type": "string", "description": "Safe to show a user."},
                "field": {"type": "string", "description": "The request field at fault."},
            },
        }
    },
}


def _model(fn: FunctionDef, hint: str) -> type[BaseModel]:
    model = typing.get_type_hints(registry.load_target(fn))[hint]
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{fn.name}: '{hint}' must be annotated with a pydantic model")
    return model


def request_model(fn: FunctionDef) -> type[BaseModel]:
    return _model(fn, "body")


def response_model(fn: FunctionDef) -> type[BaseModel]:
    return _model(fn, "return")


def _has_required_field(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def browser_functions() -> list[FunctionDef]:
    return sorted(
        (fn for fn in registry.FUNCTIONS if fn.kind == "browser"), key=lambda fn: fn.deployed_name
    )


def _strict_responses(schemas: dict[str, Any]) -> None:
    # Responses are documented closed (no unlisted fields) and with every field required:
    # the functions always send every field, null where there is no value.
    for schema in schemas.values():
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
            schema["required"] = sorted(schema["properties"])


PUBLIC_READ_ERRORS: dict[int, str] = {
    405: "Wrong HTTP method; the `Allow` header lists the right ones (GET, HEAD).",
    500: COMMON_ERRORS[500],
    503: "Stripe is unavailable: retry after `Retry-After` seconds.",
}


def _public_read(ep: FunctionDef, doc: str, success: dict[str, Any]) -> dict[str, Any]:
    """A public read: GET, no token, cacheable (billing.http.public_read)."""
    ok = dict(success)
    ok["description"] = "Success; cacheable as `Cache-Control: public, max-age=<max_age>` says."
    ok["headers"] = {
        "Cache-Control": {
            "description": "`public, max-age=N`: N is the answer's `max_age`.",
            "schema": {"type": "string"},
        }
    }
    responses: dict[str, Any] = {"200": ok}
    for status, text in PUBLIC_READ_ERRORS.items():
        responses[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    return {
        "operationId": ep.name,
        "summary": doc.splitlines()[0] if doc else ep.deployed_name,
        "security": [],
        "responses": responses,
    }


def build() -> dict[str, Any]:
    endpoints = browser_functions()
    _, request_defs = models_json_schema(
        [(request_model(ep), "validation") for ep in endpoints], ref_template=REF
    )
    _, response_defs = models_json_schema(
        [(response_model(ep), "serialization") for ep in endpoints], ref_template=REF
    )
    response_schemas = response_defs.get("$defs", {})
    _strict_responses(response_schemas)
    schemas = {**request_defs.get("$defs", {}), **response_schemas, "Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for ep in endpoints:
        errors = {**COMMON_ERRORS, **{s: SPECIFIC_ERRORS[s] for s in ep.errors}}
        responses: dict[str, Any] = {
            "200": {
                "description": "Success.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": REF.format(model=response_model(ep).__name__)}
                    }
                },
            }
        }
        for status in sorted(errors):
            responses[str(status)] = {
                "description": errors[status],
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
            }
        doc = (registry.load_target(ep).__doc__ or "").strip()
        if ep.public_read:
            paths[f"/{ep.deployed_name}"] = {"get": _public_read(ep, doc, responses["200"])}
            continue
        paths[f"/{ep.deployed_name}"] = {
            "post": {
                "operationId": ep.name,
                "summary": doc.splitlines()[0] if doc else ep.deployed_name,
                "security": [{"firebaseIdToken": []}],
                "requestBody": {
                    # An absent or empty body is the object {}: required exactly when the
                    # model has a required field.
                    "required": _has_required_field(request_model(ep)),
                    "content": {
                        "application/json": {
                            "schema": {"$ref": REF.format(model=request_model(ep).__name__)}
                        }
                    },
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Billing functions",
            "version": "1.0.0",
            "description": "Each path is its own Cloud Function (2nd gen); its URL is the "
            "function's URL. Every request is a POST with a JSON body and a Firebase ID token.",
        },
        "servers": [
            {
                "url": "https://{region}-{project}.cloudfunctions.net",
                "variables": {
                    "region": {"default": "europe-west1"},
                    "project": {"default": "my-project"},
                },
            }
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "firebaseIdToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render() -> str:
    header = "# Generated by `make openapi` from functions/billing; do not edit by hand.\n"
    return header + yaml.safe_dump(build(), sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(render())
