"""The browser API's policy: CORS, a Firebase ID token, a JSON body validated by a model.

In order: CORS (allowlist, preflight), method (405 + Allow), body size (413), Firebase ID
token (401), content type (415), JSON (400), validation with pydantic (400 naming the field),
then the operation, whose result model is the 200 answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask

from billing.auth import bearer_token
from billing.context import Context, Operation, RequestModel
from billing.errors import (
    MALFORMED_JSON,
    ORIGIN_NOT_ALLOWED,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    UnsupportedMediaType,
)
from billing.http.body import read_body
from billing.http.shell import HttpFunction, json_response
from core import logs, strict_json

if TYPE_CHECKING:
    from billing.runtime import Runtime

ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-Id"


class BrowserEndpoint[Req: RequestModel](HttpFunction):
    def __init__(
        self,
        name: str,
        operation: Operation[Req],
        request_model: type[Req],
        *,
        methods: tuple[str, ...] = ("POST",),
    ) -> None:
        super().__init__(name)
        self.operation = operation
        self.request_model = request_model
        self.methods = methods

    def _origin_allowed(self, request: flask.Request, rt: Runtime) -> bool:
        origin = request.headers.get("Origin")
        return origin is not None and origin in rt.settings.allowed_origins

    def respond(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        if "Origin" in request.headers and not self._origin_allowed(request, rt):
            raise Forbidden(
                "This origin is not allowed to call the billing API.", code=ORIGIN_NOT_ALLOWED
            )
        if request.method == "OPTIONS":
            return self._preflight(request)
        if request.method not in self.methods:
            raise MethodNotAllowed([*self.methods, "OPTIONS"])
        raw = read_body(
            request, rt.settings.max_body_bytes, timeout=rt.settings.body_timeout_seconds
        )
        caller = rt.verifier.verify(bearer_token(request.headers.get("Authorization")))
        logs.bind(uid=caller.uid)
        body = self.request_model.model_validate(parse_json_object(request, raw))
        result = self.operation(Context(runtime=rt, request_id=request_id, caller=caller), body)
        return json_response(result.model_dump(mode="json"), 200)

    def finish(self, request: flask.Request, response: flask.Response, rt: Runtime) -> None:
        if self._origin_allowed(request, rt):
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
        response.headers.add("Vary", "Origin")

    def _preflight(self, request: flask.Request) -> flask.Response:
        wanted = request.headers.get("Access-Control-Request-Method", "")
        if wanted not in self.methods:
            raise MethodNotAllowed([*self.methods, "OPTIONS"])
        response = flask.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ", ".join([*self.methods, "OPTIONS"])
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "3600"
        return response


def parse_json_object(request: flask.Request, raw: bytes) -> Any:
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"Send the request body as JSON (Content-Type: application/json), "
            f"not {request.mimetype or 'no content type'}."
        )
    try:
        data = strict_json.loads(raw)
    except strict_json.InvalidJson as exc:
        raise BadRequest(
            f"The request body is not valid JSON: {exc}.", code=MALFORMED_JSON
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code=MALFORMED_JSON)
    return data
