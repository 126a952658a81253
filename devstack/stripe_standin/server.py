"""The Flask app: one pipeline for every ``/v1`` request, plus the ``/_standin`` control API.

Order of a ``/v1`` request: decode the form, apply any injected fault (such a request never
reaches an endpoint), authenticate, route, claim the idempotency key (POST), validate the
parameters against ``stripe.params``, wait the configured latency, run the handler under the
state lock, save the idempotent response, dispatch the events it produced, record it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from devstack.stripe_standin import ids
from devstack.stripe_standin.active_entitlements import announce_changes
from devstack.stripe_standin.api_errors import (
    StripeAPIError,
    api_error,
    invalid_request,
)
from devstack.stripe_standin.clock import Clock
from devstack.stripe_standin.contention import (
    LockTimeout,
    ObjectLocks,
    RateLimits,
    lock_timeout,
    locked_ids,
    rate_limited,
)
from devstack.stripe_standin.delivery import WebhookDispatcher, WebhookSettings
from devstack.stripe_standin.dunning import DunningSettings
from devstack.stripe_standin.expand import Expander
from devstack.stripe_standin.faults import FaultInjector, FaultRule
from devstack.stripe_standin.formcodec import FormDecodeError, decode_form
from devstack.stripe_standin.idempotency import (
    Claimed,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Replay,
    StoredResponse,
)
from devstack.stripe_standin.options import API_VERSION, StandinConfig
from devstack.stripe_standin.params import validate
from devstack.stripe_standin.recorder import RequestRecorder
from devstack.stripe_standin.resources import ROUTES
from devstack.stripe_standin.routing import ApiContext, Route, Router
from devstack.stripe_standin.seeding import seed_catalog
from devstack.stripe_standin.state import Origin, State

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("devstack.stripe_standin")

JSONDict = dict[str, Any]

DISCONNECT = "stripe_standin.disconnect"  # read by serving.KeepAliveRequestHandler too


class Standin:
    """Everything behind one stand-in server: state, idempotency, faults, log, webhooks."""

    def __init__(self, config: StandinConfig | None = None) -> None:
        self.config = config or StandinConfig()
        if not self.config.webhook_secret:
            self.config.webhook_secret = "whsec_" + ids.random_string(32)
        self.config_lock = threading.Lock()
        self.clock = Clock()
        # POST /_standin/entitlements/lag: Stripe derives active entitlements after the change
        # that grants them; while this is set, they stay as last announced.
        self.entitlements_lag = False
        self.dispatcher = WebhookDispatcher(self.webhook_settings, self._acknowledged)
        catalog_path, fixtures_path = self.config.catalog_path, self.config.fixtures_path
        with_portal = self.config.portal_configuration
        self.state = State(
            self.clock,
            lambda state: seed_catalog(state, catalog_path, fixtures_path, portal=with_portal),
            self.dispatcher.submit,
            self._endpoint_count,
            # Stripe recomputes a customer's active entitlements whenever what they are
            # subscribed to, or the features of those products, change.
            before_flush=lambda state: None if self.entitlements_lag else announce_changes(state),
        )
        self.state.dunning = self.dunning_settings()
        self.state.invoice_limits = self.config.rate_limits
        self.locks = ObjectLocks()
        self.rate_limits = RateLimits()
        self.expander = Expander(self.state)
        self.router = Router(ROUTES)
        self.idempotency = IdempotencyStore(self.clock.now)
        self.faults = FaultInjector()
        self.recorder = RequestRecorder()
        self.dispatcher.start()

    # --- settings ---------------------------------------------------------------------------

    def webhook_settings(self) -> WebhookSettings:
        with self.config_lock:
            return WebhookSettings(
                url=self.config.webhook_url,
                secret=self.config.webhook_secret or "",
                max_attempts=self.config.webhook_max_attempts,
                backoff_s=self.config.webhook_backoff_s,
                timeout_s=self.config.webhook_timeout_s,
                payload=self.config.webhook_payload,
            )

    def dunning_settings(self) -> DunningSettings:
        """The account's retry schedule and end of dunning, from the config (ValueError when
        they are not settings Stripe offers)."""
        with self.config_lock:
            return DunningSettings(tuple(self.config.retry_schedule_days), self.config.dunning_end)

    def _endpoint_count(self) -> int:
        with self.config_lock:
            return 1 if self.config.webhook_url else 0

    def _acknowledged(self, event_id: str) -> None:
        with self.state.lock:
            event = self.state.data.events.get(event_id)
            if event is not None:
                event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)

    def latency_s(self) -> float:
        with self.config_lock:
            return self.config.latency_ms / 1000

    def lock_timeout_s(self) -> float:
        with self.config_lock:
            return self.config.lock_timeout_ms / 1000

    def rate_limited(self) -> bool:
        with self.config_lock:
            return self.config.rate_limits

    def reset(self) -> None:
        """Forget all objects, events, keys, logs, faults and deliveries; keep config."""
        with self.state.lock:
            self.clock.reset()
            self.entitlements_lag = False
            self.state.reset()
        self.idempotency.clear()
        self.recorder.clear()
        self.faults.clear()
        self.dispatcher.clear()

    def close(self) -> None:
        self.dispatcher.close()

    # --- the /v1 pipeline -------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = ids.new_id("req")
        idempotency_key = req.headers.get("Idempotency-Key")
        record: JSONDict = {
            "seq": self.recorder.next_seq(),
            "method": req.method,
            "path": req.path,
            "params": {},
            "idempotency_key": idempotency_key,
            "status": None,
            "replayed": False,
            "ts": time.time(),
            "request_id": request_id,
        }
        try:
            response = self._handle(req, request_id, idempotency_key, record)
            record["status"] = 0 if req.environ.get(DISCONNECT) else response.status_code
            if response.status_code >= 400 and response.mimetype == "application/json":
                # Which refusal it was (lock_timeout, rate_limit, ...): Stripe's error.code.
                error = json.loads(response.get_data()).get("error") or {}
                record["error_code"] = error.get("code")
            record["replayed"] = response.headers.get("Idempotent-Replayed") == "true"
            return response
        finally:
            self.recorder.add(record)

    def _handle(
        self, req: Request, request_id: str, idempotency_key: str | None, record: JSONDict
    ) -> Response:
        try:
            raw = _decode(req)
        except FormDecodeError as error:
            return _error_response(invalid_request(error.message, param=error.param), request_id)
        record["params"] = raw
        rule = self.faults.consume(req.method, req.path)
        if rule is not None and rule.kind == "hold":
            rule.hold()  # outside every lock: other requests run meanwhile, which is its point
        elif rule is not None:
            return self._fault(rule, req, request_id)
        try:
            api_key = _authenticate(req)
            _check_version(req)
            route, path_params = self.router.match(req.method, req.path)
        except StripeAPIError as error:
            return _error_response(error, request_id)
        if self.rate_limited() and not self.rate_limits.admit(req.method):
            return _error_response(rate_limited(), request_id)
        claim = None
        if req.method == "POST" and idempotency_key:
            begun = self.idempotency.begin(api_key, idempotency_key, req.method, req.path, raw)
            if isinstance(begun, Replay):
                return _replay(begun.response, request_id, idempotency_key)
            if isinstance(begun, InFlight):
                return _error_response(_key_in_use(), request_id)
            if isinstance(begun, Mismatch):
                mismatch = StripeAPIError(400, "idempotency_error", begun.message)
                return _error_response(mismatch, request_id)
            claim = begun
        try:
            params = validate(raw, route.params_type)
            route.supports.check(params, route.endpoint)
        except StripeAPIError as error:
            if claim is not None:
                self.idempotency.release(claim)
            return _error_response(error, request_id)
        record["params"] = params
        return self._run(route, path_params, params, req, request_id, idempotency_key, claim)

    def _run(
        self,
        route: Route,
        path_params: dict[str, str],
        params: JSONDict,
        req: Request,
        request_id: str,
        idempotency_key: str | None,
        claim: Claimed | None,
    ) -> Response:
        try:
            origin = Origin(request_id, idempotency_key if req.method == "POST" else None)
            lock_wait = self.lock_timeout_s()
            objects = locked_ids(req.method, path_params, params) if lock_wait else set()
            if objects:
                try:
                    with self.locks.hold(objects, lock_wait):
                        # Stripe's processing time is spent holding its object locks.
                        self._sleep_latency()
                        status, body = self._execute(route, path_params, params, origin, req)
                except LockTimeout:
                    # Not saved for the idempotency key: the SDK's retry runs the request anew.
                    return _error_response(lock_timeout(), request_id)
            else:
                self._sleep_latency()
                status, body = self._execute(route, path_params, params, origin, req)
            payload = _encode(body)
            if claim is not None:
                self.idempotency.complete(claim, StoredResponse(status, payload, request_id))
                claim = None
            return _json_response(payload, status, request_id, idempotency_key)
        finally:
            if claim is not None:
                self.idempotency.release(claim)

    def _sleep_latency(self) -> None:
        latency = self.latency_s()
        if latency:
            time.sleep(latency)

    def _execute(
        self,
        route: Route,
        path_params: dict[str, str],
        params: JSONDict,
        origin: Origin,
        req: Request,
    ) -> tuple[int, JSONDict]:
        state = self.state
        with state.lock:
            state.base_url = req.host_url.rstrip("/")
            ctx = ApiContext(state, origin, state.base_url, self.expander)
            try:
                return 200, route.handler(ctx, path_params, params)
            except StripeAPIError as error:
                return error.status, error.body(origin.request_id)
            except Exception:
                log.exception("stand-in handler failed: %s %s", route.method, route.pattern)
                return 500, api_error().body(origin.request_id)
            finally:
                state.flush_events()

    def _fault(self, rule: FaultRule, req: Request, request_id: str) -> Response:
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if rule.kind in ("error", "rate_limit"):
            return _error_response(rule.error(), request_id)
        req.environ[DISCONNECT] = True
        return Response(status=500)


def _decode(req: Request) -> JSONDict:
    if req.method == "POST":
        return decode_form(req.get_data(as_text=True))
    return decode_form(req.query_string.decode())


def _authenticate(req: Request) -> str:
    header = req.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(credentials).decode().partition(":")[0]
        except ValueError:
            key = ""
    if not key:
        raise invalid_request(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://docs.stripe.com/api#authentication for details, "
            "or we can help at https://support.stripe.com/.",
            status=401,
        )
    if key.startswith("sk_live_"):
        raise invalid_request(
            "The Stripe stand-in only accepts test mode secret keys (sk_test_...); a live mode "
            "key was provided.",
            status=401,
        )
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_"):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "****"
        raise invalid_request(f"Invalid API Key provided: {masked}", status=401)
    return key


def _check_version(req: Request) -> None:
    version = req.headers.get("Stripe-Version")
    if version and version != API_VERSION:
        raise invalid_request(
            f"The Stripe stand-in only serves API version {API_VERSION}; this request asked "
            f"for {version}."
        )


def _key_in_use() -> StripeAPIError:
    return StripeAPIError(
        409,
        "invalid_request_error",
        "There is currently another in-progress request using this Idempotent Key (probably "
        "because of a timeout). Please try again later.",
        code="idempotency_key_in_use",
    )


def _encode(body: JSONDict) -> bytes:
    return json.dumps(body, indent=2).encode()


def _json_response(
    payload: bytes, status: int, request_id: str, idempotency_key: str | None
) -> Response:
    response = Response(payload, status=status, mimetype="application/json")
    response.headers["Request-Id"] = request_id
    response.headers["Stripe-Version"] = API_VERSION
    if idempotency_key:
        response.headers["Idempotency-Key"] = idempotency_key
    return response


def _error_response(error: StripeAPIError, request_id: str) -> Response:
    response = _json_response(_encode(error.body(request_id)), error.status, request_id, None)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _replay(stored: StoredResponse, request_id: str, idempotency_key: str) -> Response:
    response = _json_response(stored.body, stored.status, request_id, idempotency_key)
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Original-Request"] = stored.request_id
    return response


class DisconnectMiddleware:
    """Closes the connection without a response when the pipeline asks for it."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = self._app(environ, start_response)
        if not environ.get(DISCONNECT):
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # werkzeug's request handler treats this as a dropped connection and sends nothing.
        raise ConnectionAbortedError("connection dropped by fault injection")
