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

REF = "#/components/schemas/{model}"

# Every endpoint may answer these; ``Endpoint.errors`` lists the operation's own.
COMMON_ERRORS: dict[int, str] = {
    400: "Bad input: malformed JSON, a body shorter than its `Content-Length` "
    "(`incomplete_body`), or a field that is missing, unknown or invalid (`field` names it); "
    "`price_not_offered`; `promotion_code_invalid` (unknown, inactive, expired, not yours or "
    "not for this plan).",
    401: "No valid Firebase ID token in `Authorization: Bearer <token>`.",
    403: "The request's `Origin` is not in the allowlist (`origin_not_allowed`).",
    405: "Wrong HTTP method; the `Allow` header lists the right one.",
    408: "The request body did not arrive within `BODY_TIMEOUT_SECONDS` (`request_timeout`).",
    413: "The request body is larger than `MAX_BODY_BYTES`; refused unread, and the connection "
    "is closed.",
    415: "The request body is not `application/json`.",
    500: "An unexpected error on our side; nothing secret is in the message.",
    503: "Stripe, Firestore or the token keys are unavailable: retry after `Retry-After` seconds.",
}
SPECIFIC_ERRORS: dict[int, str] = {
    402: "The card was declined; `message` is safe to show the user.",
    404: "No such object for this caller (it does not exist, or is someone else's).",
    409: "Conflicts with the current state: `customer_required`, `customer_missing`, "
    "`already_subscribed`, `subscription_ended`, `subscription_not_started`, "
    "`payment_method_not_saved`, `not_payable`, `subscription_not_active`, `same_price`, "
    "`change_pending`, `in_progress` (retry after `Retry-After`), `idempotency_conflict`.",
}

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
                "code": {"type": "string", "description": "Stable, machine-readable."},
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
