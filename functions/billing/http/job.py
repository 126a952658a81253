"""The policy of scheduled jobs: POST with a JSON object of options, from Cloud Scheduler only.

A job function is deployed without public invocation: Cloud Run admits only requests that
carry an OIDC token of a service account granted ``roles/run.invoker`` on it (the scheduler's).
The function checks that token too (billing.job_auth), locally as in production, before it
reads the body: 401 without a valid one, 403 for anyone else's (a user's). Its operation runs
with no caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

from billing.context import Context, Operation, RequestModel
from billing.errors import MALFORMED_JSON, BadRequest, MethodNotAllowed
from billing.http.body import read_body
from billing.http.browser import parse_json_object
from billing.http.shell import HttpFunction, json_response
from billing.job_auth import verify_scheduler

if TYPE_CHECKING:
    from billing.runtime import Runtime


class JobEndpoint[Req: RequestModel](HttpFunction):
    def __init__(self, name: str, operation: Operation[Req], request_model: type[Req]) -> None:
        super().__init__(name)
        self.operation = operation
        self.request_model = request_model

    def respond(self, request: flask.Request, rt: Runtime, request_id: str) -> flask.Response:
        if request.method != "POST":
            raise MethodNotAllowed(["POST"])
        verify_scheduler(rt.settings, request.headers.get("Authorization"), request.host)
        raw = read_body(
            request, rt.settings.max_body_bytes, timeout=rt.settings.body_timeout_seconds
        )
        if not raw.strip():
            # No body is no choice: a job's options (its mode among them) are always sent, so
            # a bare POST (or a text/plain one) can never start a run by default.
            raise BadRequest(
                "Send the job's options as a JSON object (Content-Type: application/json).",
                code=MALFORMED_JSON,
            )
        body = self.request_model.model_validate(parse_json_object(request, raw))
        result = self.operation(Context(runtime=rt, request_id=request_id), body)
        return json_response(result.model_dump(mode="json"), 200)
