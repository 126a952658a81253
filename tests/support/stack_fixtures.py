"""One local stack per test session: real emulators, the Stripe stand-in, every function.

Tests talk to the functions over HTTP exactly as a frontend would. Every response is
checked against openapi.yaml on the way, so the document is kept true by real answers.
Tests isolate themselves with fresh uids, never by resetting shared state.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from app import registry
from devstack import procs
from devstack.stack import (
    FunctionSpec,
    Stack,
    StackInfo,
    function_argv,
    function_process_env,
)
from devstack.tokens import mint_token
from tests.support import mode
from tests.support.auth_emulator import AuthEmulator, new_email, token_claims
from tests.support.openapi_check import assert_matches

pytestmark = pytest.mark.integration


REPO = Path(__file__).resolve().parents[2]
# A fixed folder, so a session killed hard is cleaned up by the next one (stack.json's pids).
STATE_DIR = REPO / ".devstack" / "test"


@pytest.fixture(scope="session")
def running_stack() -> Iterator[Stack]:
    # The documented defaults only: a developer's own .env must not change what tests see.
    env_dir = STATE_DIR / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".env.example", env_dir / ".env.example")
    overrides = {"LOG_LEVEL": "INFO"}
    if mode.AGAINST_STRIPE:
        if not mode.test_mode_ready():
            pytest.skip(mode.NEEDS_KEY)
        overrides["ALLOWED_PRICE_IDS"] = os.environ["ALLOWED_PRICE_IDS"]
    # A fixed base port (STACK_BASE_PORT) keeps the URLs, the webhook's for `stripe listen`
    # among them, the same from run to run.
    base_port = os.environ.get("STACK_BASE_PORT")
    stack = Stack(
        state_dir=STATE_DIR,
        env_dir=env_dir,
        env_overrides=overrides,
        use_standin=not mode.AGAINST_STRIPE,
        base_port=int(base_port) if base_port else None,
        web=True,  # the browser tests (tests/browser) drive the example app
        # A deadline, not a wait: on a loaded 2-core machine (CI, a reviewer running the suite
        # beside other work) two dozen processes importing at once can take minutes to answer.
        start_timeout=float(os.environ.get("STACK_START_TIMEOUT", "300")),
    )
    with stack:
        yield stack


@pytest.fixture(scope="session")
def stack(running_stack: Stack) -> StackInfo:
    assert running_stack.info is not None
    return running_stack.info


class _RateLimitPatientClient(stripe.RequestsClient):
    """The tests' own Stripe client (the dashboard's or Stripe.js's steps, and the reads that
    check Stripe's state) shares the account's rate limits with the functions under test. A
    429 for a rate limit is retried with the SDK's backoff, as Stripe advises ("retry requests
    with an exponential backoff", https://docs.stripe.com/rate-limits): on a fast, quiet
    machine the functions' burst can use a second's budget before the test reads. A limited
    request was not processed, so retrying it is safe (the SDK keeps its idempotency key)."""

    def _should_retry(
        self,
        response: Any,
        api_connection_error: Any,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        if response is not None and response[1] == 429:
            return num_retries < (max_network_retries or 0)
        return bool(
            super()._should_retry(response, api_connection_error, num_retries, max_network_retries)
        )


class StandIn:
    """An SDK client for the Stripe the stack uses (steps a frontend or the dashboard would
    take), and the stand-in's control API, which skips the test in Stripe test mode."""

    def __init__(self, info: StackInfo) -> None:
        if mode.AGAINST_STRIPE:
            self.control = ""
            self.sdk = stripe.StripeClient(
                os.environ["STRIPE_SECRET_KEY"],
                http_client=_RateLimitPatientClient(),
                max_network_retries=8,
            )
            return
        assert info.stripe.control_url is not None
        assert info.stripe.api_base is not None
        self.control = info.stripe.control_url.rstrip("/")
        self.sdk = stripe.StripeClient(
            "sk_test_integration",
            base_addresses={"api": info.stripe.api_base},
            http_client=_RateLimitPatientClient(),
            max_network_retries=8,
        )

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        mode.skip_without_standin()
        response = requests.get(f"{self.control}/_standin/requests", params=filters, timeout=10)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def webhooks(self) -> dict[str, Any]:
        """The webhook dispatcher's status: paused, queued, held, in_flight."""
        response = requests.get(f"{self.control}/_standin/webhooks", timeout=10)
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def fault(self, **rule: Any) -> None:
        mode.skip_without_standin()
        requests.post(f"{self.control}/_standin/faults", json=rule, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        mode.skip_without_standin()
        requests.delete(f"{self.control}/_standin/faults", timeout=10).raise_for_status()

    def now(self) -> int:
        """Stripe's time for the stack's customers: the stand-in keeps them all on one test
        clock (advanced by tests); Stripe test mode, without test clocks, is the wall clock."""
        if mode.AGAINST_STRIPE:
            return int(time.time())
        return self.sdk.v1.test_helpers.test_clocks.retrieve("clock_standin").frozen_time

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        mode.skip_without_standin()
        response = requests.post(f"{self.control}{path}", json=body or {}, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json() if response.content else {}
        return result


@contextmanager
def extra_function(
    stack: Stack, target: str, overrides: Mapping[str, str | None], *, name: str = ""
) -> Iterator[str]:
    """One more instance of a function, with other settings, beside the session's stack
    (as a second deployment with another configuration would be). Yields its URL.

    An override of None removes the variable. The log is ``logs/<name or target>-extra.log``.
    """
    port = procs.free_port()
    spec = FunctionSpec(target, registry.get(target).signature)
    source = stack.functions_source
    environ: dict[str, str | None] = {**stack.function_environ, **overrides}
    env = function_process_env(
        {key: value for key, value in environ.items() if value is not None}, spec, source
    )
    name = f"{name or spec.deployed_name}-extra"
    child = procs.spawn(
        name,
        function_argv(source, spec, procs.LOCALHOST, port),
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        cwd=REPO,
        log_path=STATE_DIR / "logs" / f"{name}.log",
    )
    try:
        deadline = time.monotonic() + 60
        while not procs.tcp_accepts(procs.LOCALHOST, port):
            assert child.exited() is None, procs.tail(child.log_path)
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.1)
        yield f"http://{procs.LOCALHOST}:{port}"
    finally:
        procs.stop_children([child])


def log_entries(log_path: Path, request_id: str, *, timeout: float = 10) -> list[dict[str, Any]]:
    """The JSON log lines a function wrote for one request, once its request line is there."""
    deadline = time.monotonic() + timeout
    while True:
        entries = []
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("request_id") == request_id:
                entries.append(entry)
        if any("httpRequest" in entry for entry in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


@pytest.fixture(scope="session")
def standin(stack: StackInfo) -> StandIn:
    return StandIn(stack)


@pytest.fixture
def faults(standin: StandIn) -> Iterator[StandIn]:
    standin.clear_faults()
    yield standin
    standin.clear_faults()


@pytest.fixture
def paused(standin: StandIn) -> Iterator[StandIn]:
    """The stand-in holds its webhook deliveries until the test ends (then sends them as they
    came), so only the test's own calls touch its user's documents meanwhile."""
    standin.post("/_standin/webhooks/pause")
    try:
        yield standin
    finally:
        standin.post("/_standin/webhooks/resume", {"order": "as_is"})


@pytest.fixture(scope="session")
def db(stack: StackInfo) -> firestore.Client:
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_emulator_host
    return firestore.Client(project=stack.project_id, credentials=AnonymousCredentials())


class Api:
    """Calls the functions like a frontend; checks each answer against openapi.yaml."""

    def __init__(self, info: StackInfo) -> None:
        self.info = info

    def call(
        self,
        function: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        data: bytes | None = None,
        check_schema: bool = True,
    ) -> requests.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = requests.request(
            method,
            self.info.function_url(function),
            json=body if data is None else None,
            data=data,
            headers=sent,
            timeout=60,
        )
        if check_schema and method == "POST" and response.content:
            assert_matches(function.replace("_", "-"), response.status_code, response.json())
        return response


@pytest.fixture(scope="session")
def api(stack: StackInfo) -> Api:
    return Api(stack)


class User:
    """A fresh end user with a local ID token."""

    def __init__(self, api: Api, project_id: str) -> None:
        self.api = api
        self.uid = f"user-{uuid.uuid4().hex[:12]}"
        self.email = f"{self.uid}@example.com"
        self.token = mint_token(self.uid, self.email, project_id=project_id)

    def call(self, function: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.api.call(function, body, token=self.token, **kwargs)

    def post(self, url: str, body: Any) -> requests.Response:
        """Calls a function instance outside the session stack (an extra_function URL)."""
        return requests.post(
            url, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def ok(self, function: str, body: Any = None) -> dict[str, Any]:
        response = self.call(function, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def customer(self) -> str:
        return str(self.ok("create-customer", {"name": "Test User"})["customer_id"])


@pytest.fixture
def user(api: Api, stack: StackInfo) -> User:
    return User(api, stack.project_id)


@pytest.fixture
def other_user(api: Api, stack: StackInfo) -> User:
    return User(api, stack.project_id)


@pytest.fixture(scope="session")
def auth(stack: StackInfo) -> AuthEmulator:
    """The stack's Firebase Auth emulator (real sign-up and sign-in)."""
    assert stack.auth_emulator_host is not None
    return AuthEmulator(stack.auth_emulator_host, stack.project_id)


class EmulatorUser(User):
    """A user signed up in the Auth emulator, email verified through its mail code, signed in:
    their token is one the emulator issued, as a browser would hold."""

    def __init__(self, api: Api, auth: AuthEmulator, *, verified: bool = True) -> None:
        self.api = api
        self.auth = auth
        self.email = new_email()
        signed_up = auth.sign_up(self.email)
        self.uid = str(signed_up["localId"])
        if verified:
            auth.verify_email(signed_up["idToken"], self.email)
        self.token = auth.sign_in(self.email)

    def refresh(self) -> dict[str, Any]:
        """Signs in again (a token with the claims as they are now); returns its claims."""
        self.token = self.auth.sign_in(self.email)
        return token_claims(self.token)
