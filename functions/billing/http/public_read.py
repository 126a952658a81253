"""The policy of a public read (the pricing page's list-plans): no sign-in, GET, cacheable.

Anyone may read it, from any origin (``Access-Control-Allow-Origin: *``, no credentials), so
browsers and CDNs may cache it: ``Cache-Control: public, max-age=N`` where the operation's
answer says how long it stays fresh (``max_age``). Errors are never cached (``no-store``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

from billing.context import Context, Operation, RequestModel
from billing.errors import MethodNotAllowed
from billing.http.shell import HttpFunction, json_response

if TYPE_CHECKING:
    from billing.runtime import Runtime

METHODS = ("GET", "HEAD")


class PublicReadEndpoint[Req: RequestModel](HttpFunction):
    def __init__(self, name: str, operation: Operation[Req], request_model: type[Req]) -> None:
        super().__init__(name)
        self.operation = operation
        self.request_model = request_model

    def respond(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        if request.method == "OPTIONS":
            response = flask.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = ", ".join([*METHODS, "OPTIONS"])
            # A client that sends its token everywhere still gets in; the token is not read.
            response.headers["Access-Control-Allow-Headers"] = "Authorization, X-Request-Id"
            response.headers["Access-Control-Max-Age"] = "86400"
            return response
        if request.method not in METHODS:
            raise MethodNotAllowed([*METHODS, "OPTIONS"])
        result = self.operation(Context(runtime=rt, request_id=request_id), self.request_model())
        body = result.model_dump(mode="json")
        max_age = int(body.get("max_age", 0))
        return json_response(body, 200, {"Cache-Control": f"public, max-age={max_age}"})

    def finish(self, request: flask.Request, response: flask.Response, rt: Runtime) -> None:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, Retry-After"
