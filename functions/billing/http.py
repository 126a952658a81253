"""The HTTP layer every function shares.

A domain operation is a plain function ``op(ctx, body) -> response model``. :func:`endpoint`
wraps it into a Cloud Functions handler that does, in this order: request id and trace
context, CORS (allowlist, preflight), method (405 + Allow), body size (413), Firebase ID token
(401), content type (415), JSON (400), validation with pydantic (400 naming the field), the
operation, and one error shape for every failure:
``{"error": {"code": "...", "message": "...", "field": "..."}}``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import flask
from pydantic import BaseModel, ConfigDict

from billing import failures, logs, runtime, usage
from billing.auth import Caller, bearer_token
from billing.errors import (
    BadRequest,
    BillingError,
    Forbidden,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from billing.runtime import Runtime

log = logging.getLogger("billing.http")


class RequestModel(BaseModel):
    """Base for request bodies: unknown fields are an error, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True)
class Context:
    """What an operation may use: the verified caller and this instance's clients."""

    caller: Caller
    runtime: Runtime
    request_id: str


type Operation[Req] = Callable[[Context, Req], ResponseModel]


class Endpoint[Req: RequestModel]:
    """One HTTP cloud function. Call it with a flask request, as functions-framework does."""

    def __init__(
        self,
        name: str,
        operation: Operation[Req],
        request_model: type[Req],
        *,
        methods: tuple[str, ...] = ("POST",),
        requires: tuple[str, ...] = ("stripe_secret_key",),
        errors: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.deployed_name = name.replace("_", "-")
        self.operation = operation
        self.request_model = request_model
        self.methods = methods
        self.requires = requires
        # Statuses this operation answers beyond the ones every endpoint may (documented).
        self.errors = errors

    def __call__(self, request: flask.Request) -> flask.Response:
        return self.handle(request, runtime.current())

    def handle(self, request: flask.Request, rt: Runtime) -> flask.Response:
        started = time.monotonic()
        request_id = _request_id(request)
        settings = rt.settings
        origin = request.headers.get("Origin")
        cors_ok = origin is not None and origin in settings.allowed_origins
        with (
            logs.context(
                function=self.deployed_name,
                request_id=request_id,
                **logs.trace_fields(
                    settings.google_cloud_project,
                    {key.lower(): value for key, value in request.headers.items()},
                ),
            ),
            usage.measure() as counts,
        ):
            error_code: str | None = None
            try:
                if origin is not None and not cors_ok:
                    raise Forbidden(
                        "This origin is not allowed to call the billing API.",
                        code="origin_not_allowed",
                    )
                if request.method == "OPTIONS":
                    response = self._preflight(request)
                else:
                    response = self._serve(request, rt, request_id)
            except Exception as exc:  # every failure gets the one error shape
                error = failures.translate(exc)
                if error.status >= 500 and not isinstance(exc, BillingError):
                    log.error("operation failed", exc_info=exc)
                error_code = error.code
                response = _json(error.body(), error.status, error.headers)
            if cors_ok:
                assert origin is not None
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
            response.headers.add("Vary", "Origin")
            response.headers["X-Request-Id"] = request_id
            _log_request(request, response, started, counts, error_code)
        return response

    def _preflight(self, request: flask.Request) -> flask.Response:
        wanted = request.headers.get("Access-Control-Request-Method", "")
        if wanted not in self.methods:
            raise MethodNotAllowed([*self.methods, "OPTIONS"])
        response = flask.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ", ".join([*self.methods, "OPTIONS"])
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, X-Request-Id"
        )
        response.headers["Access-Control-Max-Age"] = "3600"
        return response

    def _serve(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        if request.method not in self.methods:
            raise MethodNotAllowed([*self.methods, "OPTIONS"])
        raw = _read_body(request, rt.settings.max_body_bytes)
        caller = rt.verifier.verify(bearer_token(request.headers.get("Authorization")))
        logs.bind(uid=caller.uid)
        body = self.request_model.model_validate(_parse_json(request, raw))
        result = self.operation(Context(caller=caller, runtime=rt, request_id=request_id), body)
        return _json(result.model_dump(mode="json"), 200)


def endpoint[Req: RequestModel](
    name: str,
    request_model: type[Req],
    *,
    methods: tuple[str, ...] = ("POST",),
    requires: tuple[str, ...] = ("stripe_secret_key",),
    errors: tuple[int, ...] = (),
) -> Callable[[Operation[Req]], Endpoint[Req]]:
    def wrap(operation: Operation[Req]) -> Endpoint[Req]:
        return Endpoint(
            name, operation, request_model, methods=methods, requires=requires, errors=errors
        )

    return wrap


def _request_id(request: flask.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    if 8 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
        return given
    return uuid.uuid4().hex


def _read_body(request: flask.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return raw


def _parse_json(request: flask.Request, raw: bytes) -> Any:
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Send the request body as JSON (Content-Type: application/json), "
            f"not {request.mimetype or 'no content type'}."
        )
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8.", code="malformed_json") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.", code="malformed_json") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The request body is not valid JSON: {exc.msg} "
            f"at line {exc.lineno} column {exc.colno}.",
            code="malformed_json",
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    return data


def _json(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> flask.Response:
    response = flask.Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _log_request(
    request: flask.Request,
    response: flask.Response,
    started: float,
    counts: Mapping[str, int],
    error_code: str | None,
) -> None:
    latency = time.monotonic() - started
    fields: dict[str, Any] = {
        "httpRequest": {
            "requestMethod": request.method,
            "status": response.status_code,
            "latency": f"{latency:.3f}s",
            "userAgent": request.headers.get("User-Agent", "")[:200],
        },
        **{kind: counts.get(kind, 0) for kind in (usage.STRIPE, usage.FIRESTORE, usage.PUBSUB)},
    }
    if error_code is not None:
        fields["error_code"] = error_code
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(level, "%s %s", request.method, response.status_code, extra=fields)
