"""The local stack: emulators, Stripe (stand-in or test mode), an SMTP sink and every function.

``python -m devstack up`` runs it from a terminal; tests use :class:`Stack` directly::

    with Stack(state_dir=tmp_path) as info:
        requests.post(info.function_url("create_customer"), ...)

Everything is started at once and then awaited, because each piece takes seconds to boot and
the pieces do not need each other to boot: ports are chosen up front, so every address (the
webhook function's URL the stand-in posts to, the emulator hosts the functions read) is known
before anything runs. Each process runs in its own process group and is stopped by group.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from devstack import procs
from devstack.tokens import DEFAULT_PROJECT, new_scheduler_key, scheduler_email

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO_ROOT / ".devstack"
# The private key the stack's stand-in for Cloud Scheduler signs job tokens with (per start).
SCHEDULER_KEY_FILE = "scheduler-key.pem"
DEFAULT_FUNCTIONS_SOURCE = REPO_ROOT / "functions" / "main.py"
# The security rules Terraform deploys; the emulator enforces them on client (non-admin) access.
FIRESTORE_RULES = REPO_ROOT / "firestore.rules"
STANDIN_MODULE = "devstack.stripe_standin"
# Not a secret: the stand-in accepts any sk_test_ key.
STANDIN_SECRET_KEY = "sk_test_standin_local"  # noqa: S105
# The Firebase Auth emulator and the example web app (web/): both from web/'s npm packages,
# which scripts/setup installs (firebase-tools is pinned in web/package-lock.json).
WEB_DIR = REPO_ROOT / "web"
NODE_BIN = WEB_DIR / "node_modules" / ".bin"
# Not a secret: the Auth emulator takes any API key; a deployed app gets its own in config.json.
EMULATOR_API_KEY = "demo-api-key"

# Measured on a 2-core machine: each emulator answers within 1.4-2.2 s alone, and in 6-11 s while
# eight functions boot beside it. A first run after a gcloud update can take far longer.
EMULATOR_START_TIMEOUT = 90.0
PROCESS_START_TIMEOUT = 60.0
STOP_GRACE = 5.0

# The notifications push subscription. Pub/Sub allows 5-100 attempts; the backoff is shorter
# than in the cloud so that a local retry shows up within seconds.
MAX_DELIVERY_ATTEMPTS = 5
RETRY_MINIMUM_BACKOFF = "1s"
RETRY_MAXIMUM_BACKOFF = "10s"

FunctionKind = Literal["http", "cloudevent"]


class StackError(Exception):
    """The stack cannot start (bad configuration, a service that fails to boot)."""


# --- what to run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    kind: FunctionKind
    webhook: bool = False  # Stripe posts its events here
    # A CloudEvent function is pushed from the topic this environment variable names.
    topic_setting: str = "NOTIFICATIONS_TOPIC"

    @property
    def deployed_name(self) -> str:
        return self.name.replace("_", "-")


def registry_functions() -> list[FunctionSpec]:
    """Every function of the billing package, from its registry (imports no operation)."""
    from app.registry import FUNCTIONS

    return [
        FunctionSpec(
            fn.name,
            fn.signature,
            webhook=fn.kind == "webhook",
            topic_setting=(fn.topic or "notifications_topic").upper(),
        )
        for fn in FUNCTIONS
    ]


# --- the functions' environment ---------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; blank lines and ``#`` lines are skipped, an optional ``export``
    prefix and one pair of surrounding quotes are removed. No interpolation, no inline
    comments: a ``#`` after the ``=`` is part of the value."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise StackError(f"{path}:{number}: expected KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def _env_file_layers(env_dir: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name in (".env.example", ".env"):
        if (env_dir / name).is_file():
            merged.update(read_env_file(env_dir / name))
    return merged


def function_env(
    run_values: Mapping[str, str | None],
    *,
    env_dir: Path = REPO_ROOT,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every function gets, lowest precedence first: ``LOG_LEVEL=INFO``, the
    defaults in ``env_dir/.env.example``, a developer's ``env_dir/.env``, this run's values
    (a None value removes the variable), then ``overrides``."""
    env = {"LOG_LEVEL": "INFO"} | _env_file_layers(env_dir)
    for key, value in run_values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.update(overrides or {})
    return env


def _is_live_key(key: str) -> bool:
    return key.startswith(("sk_live_", "rk_live_"))


def stripe_key_from_environment(env_dir: Path = REPO_ROOT) -> str | None:
    """The developer's Stripe test key (``STRIPE_SECRET_KEY`` in the environment, else in
    ``env_dir/.env``), None when there is none. Refuses live keys. Never echoes the key."""
    key = os.environ.get("STRIPE_SECRET_KEY")
    if not key and (env_dir / ".env").is_file():
        key = read_env_file(env_dir / ".env").get("STRIPE_SECRET_KEY")
    if not key or key == STANDIN_SECRET_KEY:
        return None
    if _is_live_key(key):
        raise StackError(
            "STRIPE_SECRET_KEY holds a live-mode key: the local stack refuses to run against live "
            "Stripe. Use a test key (sk_test_...) or unset it to use the local stand-in."
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise StackError("STRIPE_SECRET_KEY is set but is not a Stripe test key (sk_test_...)")
    return key


# --- what is running --------------------------------------------------------------------------


@dataclass(frozen=True)
class StripeInfo:
    mode: Literal["standin", "test"]
    api_base: str | None
    control_url: str | None
    webhook_secret: str | None
    webhook_url: str | None = None  # where Stripe (the stand-in, or `stripe listen`) posts


@dataclass(frozen=True)
class SmtpInfo:
    host: str
    port: int


@dataclass(frozen=True)
class StackInfo:
    """Addresses of a running stack; written to ``stack.json`` with the same fields."""

    project_id: str
    functions: dict[str, str]
    event_functions: list[str]
    firestore_emulator_host: str
    pubsub_emulator_host: str
    notifications_topic: str | None
    stripe: StripeInfo
    smtp: SmtpInfo
    mail_dir: Path
    logs_dir: Path
    pids: dict[str, int]
    startup_seconds: dict[str, float] = field(default_factory=dict)
    # host:port of the Firebase Auth emulator (sign-up, sign-in, custom claims)
    auth_emulator_host: str | None = None
    # the example web app (web/), when this stack serves it
    web_url: str | None = None
    # Where the app's backends report metered usage (the record-usage function reads it).
    usage_topic: str | None = None
    # Event function (deployed name) -> the topic that pushes to it.
    event_topics: dict[str, str] = field(default_factory=dict)
    # The account whose token may start a job (the stand-in scheduler's), and the file of the
    # private key this run's scheduler tokens are signed with (SCHEDULER_KEY_FILE, mode 0600).
    scheduler_email: str | None = None
    scheduler_key_file: str | None = None

    def function_url(self, name: str) -> str:
        """URL of a function by deployed name (``create-customer``) or Python name."""
        try:
            return self.functions[name.replace("_", "-")]
        except KeyError:
            raise KeyError(f"no function {name!r}; running: {sorted(self.functions)}") from None

    def log_file(self, name: str) -> Path:
        """Log of a process: a function's deployed name, or firestore, pubsub, stripe-standin,
        smtp-sink, auth, web."""
        return self.logs_dir / f"{name.replace('_', '-')}.log"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mail_dir"], data["logs_dir"] = str(self.mail_dir), str(self.logs_dir)
        return data

    @classmethod
    def load(cls, path: Path = DEFAULT_STATE_DIR / "stack.json") -> StackInfo:
        """Read the ``stack.json`` of a stack started elsewhere (e.g. by ``make run``)."""
        data = json.loads(path.read_text())
        data["stripe"] = StripeInfo(**data["stripe"])
        data["smtp"] = SmtpInfo(**data["smtp"])
        data["mail_dir"], data["logs_dir"] = Path(data["mail_dir"]), Path(data["logs_dir"])
        return cls(**data)


def stack_environment(info: StackInfo, env_dir: Path = REPO_ROOT) -> dict[str, str]:
    """The environment the functions of the running stack ``info`` were given, rebuilt from its
    ``stack.json``, so a command run beside them (``make reconcile``) reaches the same
    emulators, the same Stripe and the same project. Nothing secret is read from the file: the
    stand-in's key is not a secret, and a Stripe test key comes from the environment as for
    ``up``."""
    standin = info.stripe.mode == "standin"
    stripe_key = STANDIN_SECRET_KEY if standin else stripe_key_from_environment(env_dir)
    run_values: dict[str, str | None] = {
        "GOOGLE_CLOUD_PROJECT": info.project_id,
        "FIRESTORE_EMULATOR_HOST": info.firestore_emulator_host,
        "PUBSUB_EMULATOR_HOST": info.pubsub_emulator_host,
        "FIREBASE_AUTH_EMULATOR_HOST": info.auth_emulator_host,
        "STRIPE_SECRET_KEY": stripe_key,
        "STRIPE_API_BASE": info.stripe.api_base,
        "STRIPE_WEBHOOK_SECRETS": info.stripe.webhook_secret,
        "SMTP_HOST": info.smtp.host,
        "SMTP_PORT": str(info.smtp.port),
    }
    if info.notifications_topic is not None:
        run_values["NOTIFICATIONS_TOPIC"] = info.notifications_topic
    if info.usage_topic is not None:
        run_values["USAGE_TOPIC"] = info.usage_topic
    return function_env(run_values, env_dir=env_dir)


# --- start and stop ---------------------------------------------------------------------------


@dataclass
class _Service:
    """One process of the stack: how to start it and how to tell it is ready."""

    name: str  # also its log file's name
    label: str
    argv: list[str]
    env: Mapping[str, str]
    host: str
    port: int
    timeout: float
    health_path: str | None = None  # answers 2xx over HTTP once ready; None: the port accepts
    is_function: bool = False
    leaves_first: bool = False  # see procs.stop_groups
    on_ready: Callable[[], None] | None = None
    cwd: Path = REPO_ROOT

    @property
    def probe(self) -> str:
        if self.health_path is None:
            return f"TCP {self.host}:{self.port}"
        return f"GET http://{self.host}:{self.port}{self.health_path}"

    def is_ready(self) -> bool:
        if self.health_path is None:
            return procs.tcp_accepts(self.host, self.port)
        return procs.http_ok(f"http://{self.host}:{self.port}{self.health_path}")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


def _warm_firestore(info: StackInfo, timeout: float) -> None:
    """One document written and read back before the stack is called ready.

    The emulator answers its health check long before its write path is warm: on a busy
    machine the first write of a cold JVM took longer than FIRESTORE_TIMEOUT_SECONDS, so the
    first function call after start (a test's, a developer's) answered 503. Waited for as
    long as the emulator may take to start, retried until it answers.
    """
    url = (
        f"http://{info.firestore_emulator_host}/v1/projects/{info.project_id}"
        "/databases/(default)/documents/_devstack/warm-up"
    )
    # "Bearer owner" is the emulator's administrator: the security rules do not apply.
    headers = {"Authorization": "Bearer owner", "Content-Type": "application/json"}
    body = json.dumps({"fields": {"at": {"integerValue": str(int(time.time()))}}}).encode()
    deadline = time.monotonic() + timeout
    while True:
        try:
            for method, data in (("PATCH", body), ("GET", None)):
                request = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    response.read()
            return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise StackError(f"the Firestore emulator did not take a write: {exc}") from exc
            time.sleep(0.5)


PUT_DEADLINE = 90.0
"""Seconds a PUT to the Pub/Sub emulator is tried for: a just-started emulator on a loaded
machine can take longer than one attempt's 10 s to answer its first request."""


def _put_json(url: str, body: Mapping[str, Any], *, deadline_s: float = PUT_DEADLINE) -> None:
    """PUT to the Pub/Sub emulator's REST API; an existing resource (409) is fine. The PUT is
    idempotent, so a timed-out or refused attempt is tried again until ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        request = urllib.request.Request(  # noqa: S310 - local emulator URL
            url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                return
        except urllib.error.HTTPError as error:
            if error.code == 409:
                return
            detail = error.read().decode(errors="replace")[:500]
            raise StackError(f"PUT {url} failed: {error.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise StackError(f"PUT {url} got no answer in {deadline_s:.0f} s: {exc}") from exc
            time.sleep(0.5)


def _allocate_ports(names: list[str], host: str, base_port: int | None) -> dict[str, int]:
    if base_port is not None:
        ports = {name: base_port + offset for offset, name in enumerate(names)}
        taken = [f"{p} ({name})" for name, p in ports.items() if not procs.port_is_free(p, host)]
        if taken:
            raise StackError(f"ports in use on {host}: {', '.join(taken)}; pick another base port")
        return ports
    # Bind every socket before closing any, so the OS hands out distinct ports.
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in names]
        for sock in sockets:
            sock.bind((host, 0))
        return {name: int(sock.getsockname()[1]) for name, sock in zip(names, sockets, strict=True)}


# Children get the developer's environment (PATH, HOME, gcloud's config) minus Stripe settings:
# the functions get the run's own, and nothing else needs them.
_NOT_INHERITED = frozenset({"STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRETS"})


def function_argv(source: Path, spec: FunctionSpec, host: str, port: int) -> list[str]:
    """The functions-framework command serving ``spec`` from ``source`` on host:port."""
    script = Path(sys.executable).parent / "functions-framework"
    if not script.is_file():
        raise StackError(f"{script} not found: run scripts/setup to install the requirements")
    argv = [
        str(script), "--source", str(source), "--target", spec.name,
        "--host", host, "--port", str(port),
    ]  # fmt: skip
    if spec.kind == "cloudevent":
        argv += ["--signature-type", "cloudevent"]
    return argv


def function_process_env(
    function_environ: Mapping[str, str], spec: FunctionSpec, source: Path
) -> dict[str, str]:
    """A function process's own variables on top of the run's function environment."""
    return dict(function_environ) | {
        "FUNCTION_TARGET": spec.name,
        "PYTHONPATH": str(source.parent),
    }


def _pubsub_api(emulator_host: str, project: str) -> str:
    return f"http://{emulator_host}/v1/projects/{project}"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}-dead-letter"


def push_subscription(
    emulator_host: str,
    project: str,
    topic: str,
    name: str,
    function_url: str,
    *,
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
    minimum_backoff: str = RETRY_MINIMUM_BACKOFF,
    maximum_backoff: str = RETRY_MAXIMUM_BACKOFF,
) -> None:
    """``topic`` pushing to an event function, as Terraform's push subscription does: a failed
    delivery (any non-2xx) is retried with exponential backoff, and after
    ``max_delivery_attempts`` the message moves to ``<topic>-dead-letter``, where a pull
    subscription of the same name keeps it (a topic without one drops what it gets)."""
    api = _pubsub_api(emulator_host, project)
    dead = dead_letter_topic(topic)
    for each in (topic, dead):
        _put_json(f"{api}/topics/{each}", {})
    _put_json(f"{api}/subscriptions/{dead}", {"topic": f"projects/{project}/topics/{dead}"})
    # With the topic in the path, functions-framework turns the raw push envelope into a
    # google.cloud.pubsub.topic.v1.messagePublished CloudEvent naming the topic.
    _put_json(
        f"{api}/subscriptions/{name}",
        {
            "topic": f"projects/{project}/topics/{topic}",
            "pushConfig": {"pushEndpoint": f"{function_url}/projects/{project}/topics/{topic}"},
            "ackDeadlineSeconds": 30,
            "retryPolicy": {"minimumBackoff": minimum_backoff, "maximumBackoff": maximum_backoff},
            "deadLetterPolicy": {
                "deadLetterTopic": f"projects/{project}/topics/{dead}",
                "maxDeliveryAttempts": max_delivery_attempts,
            },
        },
    )


def _node_tool(name: str) -> Path:
    tool = NODE_BIN / name
    if not tool.is_file():
        raise StackError(f"{tool} not found: run scripts/setup to install web/'s npm packages")
    return tool


def web_app_settings(web_url: str, *, env_dir: Path = REPO_ROOT) -> dict[str, str | None]:
    """The functions' settings that point at the web app this stack serves: its origin is
    allowed, and Stripe's hosted pages (and mails) send the customer back to it."""
    layers = _env_file_layers(env_dir)
    origins = [o for o in layers.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]
    return {
        "ALLOWED_ORIGINS": ",".join([*origins, web_url]),
        "CHECKOUT_SUCCESS_URL": (
            f"{web_url}/account?checkout=done&session_id={{CHECKOUT_SESSION_ID}}"
        ),
        "CHECKOUT_CANCEL_URL": f"{web_url}/pricing",
        "PORTAL_RETURN_URL": f"{web_url}/account",
        "APP_URL": web_url,
        "BILLING_URL": f"{web_url}/account",
    }


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (as a person types it there)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def web_config(info: StackInfo, function_environ: Mapping[str, str]) -> dict[str, Any]:
    """The web app's /config.json for this stack (docs/frontend.md describes each field)."""
    return {
        "functions": {
            name: url for name, url in info.functions.items() if name not in info.event_functions
        },
        "firebase": {"apiKey": EMULATOR_API_KEY, "projectId": info.project_id},
        "emulators": {
            "auth": f"http://{info.auth_emulator_host}",
            "firestore": info.firestore_emulator_host,
            # The emulator sends no mail: the verification link lands in its log, which the
            # app's verify page names (`.devstack/logs/auth.log` for `make run`).
            "authLog": _shown_path(info.log_file("auth")),
        },
        "stripePublishableKey": None,
        "productName": function_environ.get("PRODUCT_NAME"),
    }


class Stack:
    """Starts and stops one local stack. Use as a context manager; ``start()`` returns the
    :class:`StackInfo` (also written to ``state_dir/stack.json``) and stops whatever it started
    if any part fails to come up. ``stop()`` is idempotent.

    ``use_standin=False`` runs against real Stripe in test mode with the developer's
    ``STRIPE_SECRET_KEY`` (environment, else ``env_dir/.env``). ``env_overrides`` win over every
    other source of the functions' environment (see :func:`function_env`). ``project_id``
    defaults to the ``GOOGLE_CLOUD_PROJECT`` that environment holds, else ``demo-billing``.
    ``max_delivery_attempts``: how often the notifications topic pushes a message to an event
    function that fails it before moving it to ``<topic>-dead-letter`` (see push_subscription).

    Ports: with ``base_port`` None (the default) every process gets a free port from the OS;
    with ``base_port=N`` they are N (Firestore), N+1 (Pub/Sub), N+2 (SMTP sink), N+3 (stand-in,
    when used), then one per function in ``main.py`` order, then the Auth emulator and its
    hub and logging ports, then the web app (when served).

    The Firebase Auth emulator always runs (the functions verify its tokens, and the webhook
    writes custom claims to its users). ``web=True`` also serves the example app (``web/``)
    with Vite, pointed at this stack: the functions then allow its origin and send Stripe's
    hosted pages back to it.
    """

    def __init__(
        self,
        *,
        state_dir: Path = DEFAULT_STATE_DIR,
        env_overrides: Mapping[str, str] | None = None,
        use_standin: bool = True,
        functions_source: Path = DEFAULT_FUNCTIONS_SOURCE,
        functions: Sequence[FunctionSpec] | None = None,
        env_dir: Path = REPO_ROOT,
        project_id: str | None = None,
        base_port: int | None = None,
        log_level: str | None = None,
        host: str = procs.LOCALHOST,
        start_timeout: float | None = None,
        standin_module: str = STANDIN_MODULE,
        max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
        web: bool = False,
    ) -> None:
        self.web = web
        self.state_dir = Path(state_dir).resolve()
        self.env_overrides = dict(env_overrides or {})
        self.use_standin = use_standin
        self.functions_source = Path(functions_source).resolve()
        self.functions = list(functions) if functions is not None else registry_functions()
        self.env_dir = Path(env_dir)
        self.project_id = project_id
        self.base_port = base_port
        self.log_level = log_level
        self.host = host
        self.start_timeout = start_timeout
        self.standin_module = standin_module
        if not 5 <= max_delivery_attempts <= 100:
            raise StackError("max_delivery_attempts must be 5 to 100 (Pub/Sub's limits)")
        self.max_delivery_attempts = max_delivery_attempts
        self.info: StackInfo | None = None
        # The environment every function of this run gets (before FUNCTION_TARGET/PYTHONPATH),
        # kept so a caller can start one more instance beside the stack with other settings.
        self.function_environ: dict[str, str] = {}
        # Every process this Stack started, kept after stop() so tests can check none survived.
        self.started_pids: dict[str, int] = {}
        self._children: list[tuple[_Service, procs.Child]] = []

    @property
    def running(self) -> bool:
        """Whether processes this Stack started may still run (start() began, stop() not done)."""
        return bool(self._children)

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def _pubsub_dir(self) -> Path:
        # Only the emulator's env.yaml goes there (its data stays in memory); without it, every
        # stack would share gcloud's default in the home directory.
        return self.state_dir / "pubsub"

    @property
    def _process_file(self) -> Path:
        # Written as each process starts (stack.json only once all are ready), so a launcher
        # killed half-way through start-up still leaves a record of what to clean up.
        return self.state_dir / "processes.json"

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> StackInfo:
        if self._children:
            raise StackError("this Stack is already started")
        began = time.monotonic()
        try:
            stop_recorded(self.state_dir, refuse_if_running=True)
            info, services = self._plan()
            for folder in (info.mail_dir, info.logs_dir, self._pubsub_dir):
                folder.mkdir(parents=True, exist_ok=True)
            for service in services:
                self._launch(service)
            startup = self._wait_ready(began)
            startup["total"] = round(time.monotonic() - began, 2)
            pids = {service.name: child.pid for service, child in self._children}
            self.info = replace(info, pids=pids, startup_seconds=startup)
            _write_json(self.stack_file, self.info.to_json())
        except BaseException:
            self.stop()
            raise
        log.info("stack ready in %.1f s", startup["total"])
        return self.info

    def _plan(self) -> tuple[StackInfo, list[_Service]]:
        """Every address and setting of the run, decided before anything starts."""
        functions = self.functions
        stripe_key = None if self.use_standin else stripe_key_from_environment(self.env_dir)
        if not self.use_standin and stripe_key is None:
            raise StackError("real Stripe test mode needs STRIPE_SECRET_KEY=sk_test_... set")
        names = ["firestore", "pubsub", "smtp-sink"]
        names += ["stripe-standin"] if self.use_standin else []
        names += [spec.deployed_name for spec in functions]
        names += ["auth", "auth-hub", "auth-logging"]
        names += ["web"] if self.web else []
        ports = _allocate_ports(names, self.host, self.base_port)
        urls = {spec.deployed_name: self._url(ports[spec.deployed_name]) for spec in functions}
        api_base = self._url(ports["stripe-standin"]) if self.use_standin else None
        auth_host = f"{self.host}:{ports['auth']}"
        web_url = self._url(ports["web"]) if self.web else None
        run_values: dict[str, str | None] = {
            "FIRESTORE_EMULATOR_HOST": f"{self.host}:{ports['firestore']}",
            "PUBSUB_EMULATOR_HOST": f"{self.host}:{ports['pubsub']}",
            "FIREBASE_AUTH_EMULATOR_HOST": auth_host,
            "STRIPE_SECRET_KEY": stripe_key or STANDIN_SECRET_KEY,
            "STRIPE_API_BASE": api_base,
            "STRIPE_WEBHOOK_SECRETS": (
                "whsec_" + secrets.token_hex(24)
                if self.use_standin
                else os.environ.get("STRIPE_WEBHOOK_SECRETS") or None
            ),
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(ports["smtp-sink"]),
        }
        if run_values["STRIPE_WEBHOOK_SECRETS"] is None:
            del run_values["STRIPE_WEBHOOK_SECRETS"]  # keep one from .env, if any
        if web_url is not None:
            run_values |= web_app_settings(web_url, env_dir=self.env_dir)
        if self.use_standin:
            # What the app sells is the catalog's offered prices, by the ids the stand-in seeds
            # them with (in the cloud, the ids Stripe gave them, from Terraform), and the portal
            # configuration Terraform would make from it.
            from devstack.stripe_standin import seeding

            run_values["ALLOWED_PRICE_IDS"] = ",".join(seeding.offered_price_ids())
            run_values["METERED_PRICE_IDS"] = seeding.metered_price_ids()
            run_values["PORTAL_CONFIGURATION_ID"] = seeding.PORTAL_CONFIGURATION
        if self.log_level is not None:
            run_values["LOG_LEVEL"] = self.log_level
        if self.project_id is not None:
            run_values["GOOGLE_CLOUD_PROJECT"] = self.project_id
        env = function_env(run_values, env_dir=self.env_dir, overrides=self.env_overrides)
        env.setdefault("GOOGLE_CLOUD_PROJECT", DEFAULT_PROJECT)
        # Jobs start only for the scheduler's token, as deployed; here the stack is the
        # scheduler, with a key made for this run (billing.job_auth, devstack.tokens).
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env.setdefault(
            "JOB_TOKEN_PUBLIC_KEY", new_scheduler_key(self.state_dir / SCHEDULER_KEY_FILE)
        )
        env.setdefault("JOB_INVOKER_EMAIL", scheduler_email(env["GOOGLE_CLOUD_PROJECT"]))
        if _is_live_key(env.get("STRIPE_SECRET_KEY", "")):
            raise StackError("STRIPE_SECRET_KEY is a live-mode key: the local stack refuses it")

        info = StackInfo(
            project_id=env["GOOGLE_CLOUD_PROJECT"],
            functions=urls,
            event_functions=[s.deployed_name for s in functions if s.kind == "cloudevent"],
            # Where the emulators listen; overrides change only what the functions are told
            # (a benchmark may put a counting proxy in between).
            firestore_emulator_host=f"{self.host}:{ports['firestore']}",
            pubsub_emulator_host=f"{self.host}:{ports['pubsub']}",
            notifications_topic=env.get("NOTIFICATIONS_TOPIC") or None,
            usage_topic=env.get("USAGE_TOPIC") or None,
            event_topics={
                s.deployed_name: env[s.topic_setting]
                for s in functions
                if s.kind == "cloudevent" and env.get(s.topic_setting)
            },
            stripe=StripeInfo(
                mode="standin" if self.use_standin else "test",
                api_base=api_base,
                control_url=api_base,
                webhook_secret=env.get("STRIPE_WEBHOOK_SECRETS"),
                webhook_url=next(
                    (urls[spec.deployed_name] for spec in functions if spec.webhook), None
                ),
            ),
            smtp=SmtpInfo(self.host, ports["smtp-sink"]),
            mail_dir=self.state_dir / "mail",
            logs_dir=self.state_dir / "logs",
            pids={},
            auth_emulator_host=auth_host,
            web_url=web_url,
            scheduler_email=env["JOB_INVOKER_EMAIL"],
            scheduler_key_file=str(self.state_dir / SCHEDULER_KEY_FILE),
        )
        self.function_environ = env
        return info, self._services(info, functions, ports, env)

    def _url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def _services(
        self,
        info: StackInfo,
        functions: list[FunctionSpec],
        ports: Mapping[str, int],
        function_environ: Mapping[str, str],
    ) -> list[_Service]:
        """The processes to start, slowest first."""
        inherited = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        inherited |= {"PYTHONUNBUFFERED": "1", "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
        emulator_timeout = self.start_timeout or EMULATOR_START_TIMEOUT
        timeout = self.start_timeout or PROCESS_START_TIMEOUT
        host, python = self.host, sys.executable

        def create_topic() -> None:
            for topic in dict.fromkeys([info.notifications_topic, info.usage_topic]):
                if topic:
                    self._create_topic(info, topic)

        def warm_firestore() -> None:
            _warm_firestore(info, emulator_timeout)

        services = [
            _Service(
                "firestore", "Firestore emulator",
                ["gcloud", "emulators", "firestore", "start",
                 f"--host-port={info.firestore_emulator_host}", f"--rules={FIRESTORE_RULES}"],
                inherited, host, ports["firestore"], emulator_timeout, health_path="/",
                leaves_first=True, on_ready=warm_firestore,
            ),
            _Service(
                "pubsub", "Pub/Sub emulator",
                ["gcloud", "beta", "emulators", "pubsub", "start",
                 f"--host-port={info.pubsub_emulator_host}", f"--project={info.project_id}",
                 f"--data-dir={self._pubsub_dir}"],
                inherited, host, ports["pubsub"], emulator_timeout, health_path="/",
                leaves_first=True, on_ready=create_topic,
            ),
            _Service(
                "smtp-sink", "SMTP sink",
                [python, "-m", "devstack.smtp_sink", "--host", host,
                 "--port", str(ports["smtp-sink"]), "--maildir", str(info.mail_dir)],
                inherited, host, ports["smtp-sink"], timeout,
            ),
        ]  # fmt: skip
        if info.stripe.mode == "standin" and info.stripe.webhook_secret:
            argv = [
                python, "-m", self.standin_module, "--host", host,
                "--port", str(ports["stripe-standin"]),
                "--webhook-secret", info.stripe.webhook_secret,
            ]  # fmt: skip
            for spec in functions:
                if spec.webhook:
                    argv += ["--webhook-url", info.functions[spec.deployed_name]]
            # The stand-in seeds itself from the product's catalog (billing.catalog).
            paths = [str(REPO_ROOT / "functions"), str(REPO_ROOT), inherited.get("PYTHONPATH")]
            standin_env = inherited | {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}
            services.append(
                _Service(
                    "stripe-standin", "Stripe stand-in", argv, standin_env, host,
                    ports["stripe-standin"], timeout, health_path="/_standin/health",
                )
            )  # fmt: skip

        services.append(self._auth_emulator(info, ports, inherited, emulator_timeout))
        if info.web_url is not None:
            services.append(self._web_app(info, ports, function_environ, inherited, timeout))

        for spec in functions:
            argv = function_argv(self.functions_source, spec, host, ports[spec.deployed_name])
            env = inherited | function_process_env(function_environ, spec, self.functions_source)
            services.append(
                _Service(
                    spec.deployed_name, f"function {spec.deployed_name}", argv, env, host,
                    ports[spec.deployed_name], timeout, is_function=True,
                )
            )  # fmt: skip
        return services

    def _auth_emulator(
        self,
        info: StackInfo,
        ports: Mapping[str, int],
        inherited: Mapping[str, str],
        timeout: float,
    ) -> _Service:
        """firebase-tools' Auth emulator alone, on this run's ports (its hub and logging
        ports too, so several stacks can run at once), with the UI off: the UI would be
        downloaded, and nothing may be downloaded here."""
        folder = self.state_dir / "auth"
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "emulators": {
                "auth": {"host": self.host, "port": ports["auth"]},
                "hub": {"host": self.host, "port": ports["auth-hub"]},
                "logging": {"host": self.host, "port": ports["auth-logging"]},
                "ui": {"enabled": False},
                "singleProjectMode": True,
            }
        }
        _write_json(folder / "firebase.json", config)
        argv = [
            str(_node_tool("firebase")), "emulators:start", "--only", "auth",
            "--project", info.project_id, "--config", str(folder / "firebase.json"),
        ]  # fmt: skip
        # firebase-tools writes firebase-debug.log where it runs: here, not in the repo.
        env = dict(inherited) | {"NO_UPDATE_NOTIFIER": "1", "FIREBASE_CLI_DISABLE_TELEMETRY": "1"}
        return _Service(
            "auth", "Firebase Auth emulator", argv, env, self.host, ports["auth"], timeout,
            health_path="/", cwd=folder,
        )  # fmt: skip

    def _web_app(
        self,
        info: StackInfo,
        ports: Mapping[str, int],
        function_environ: Mapping[str, str],
        inherited: Mapping[str, str],
        timeout: float,
    ) -> _Service:
        """The example app on Vite's dev server; it reads web-config.json as /config.json."""
        config_file = self.state_dir / "web-config.json"
        _write_json(config_file, web_config(info, function_environ))
        argv = [
            str(_node_tool("vite")), "--host", self.host, "--port", str(ports["web"]),
            "--strictPort", "--clearScreen", "false",
        ]  # fmt: skip
        env = dict(inherited) | {
            "BILLING_WEB_CONFIG": str(config_file),
            # Each stack its own pre-bundled dependencies: two stacks must not rewrite one.
            "BILLING_WEB_CACHE_DIR": str(self.state_dir / "vite-cache"),
        }
        return _Service(
            "web", "web app (Vite)", argv, env, self.host, ports["web"], timeout,
            health_path="/", cwd=WEB_DIR,
        )  # fmt: skip

    def _launch(self, service: _Service) -> None:
        child = procs.spawn(
            service.name,
            service.argv,
            env=service.env,
            cwd=service.cwd,
            log_path=self.state_dir / "logs" / f"{service.name}.log",  # as StackInfo.log_file
            leaves_first=service.leaves_first,
        )
        self._children.append((service, child))
        self.started_pids[service.name] = child.pid
        self._record_processes()
        log.debug("started %s (pid %d): %s", service.label, child.pid, " ".join(service.argv))

    def _wait_ready(self, began: float) -> dict[str, float]:
        """Polls every process until all are ready; fails on the first that exits or is late."""
        ready: dict[str, float] = {}
        pending = list(self._children)
        while pending:
            for service, child in list(pending):
                code = child.exited()
                waited = time.monotonic() - began
                if code is not None:
                    raise StackError(
                        f"{service.label} exited with code {code} during start-up; last lines "
                        f"of {child.log_path}:\n{procs.tail(child.log_path)}"
                    )
                if service.is_ready():
                    ready[service.name] = round(waited, 2)
                    log.debug("%s ready after %.2f s", service.label, waited)
                    pending.remove((service, child))
                    if service.on_ready is not None:
                        service.on_ready()
                elif waited > service.timeout:
                    raise StackError(
                        f"{service.label} not ready after {service.timeout:.0f} s ({service.probe}"
                        f" does not answer); last lines of {child.log_path}:\n"
                        f"{procs.tail(child.log_path)}"
                    )
            if pending:
                time.sleep(0.05)
        return ready

    def _create_topic(self, info: StackInfo, topic: str) -> None:
        """A topic, and a push subscription to it for each event function it feeds: the local
        stand-in for the push subscriptions Terraform gives the event functions."""
        pushed = [name for name in info.event_functions if info.event_topics.get(name) == topic]
        for name in pushed:
            push_subscription(
                info.pubsub_emulator_host,
                info.project_id,
                topic,
                f"{topic}-{name}",
                info.functions[name],
                max_delivery_attempts=self.max_delivery_attempts,
            )
        if not pushed:
            api = _pubsub_api(info.pubsub_emulator_host, info.project_id)
            _put_json(f"{api}/topics/{topic}", {})
        log.debug("created topic %s, pushing to %s", topic, pushed)

    def _record_processes(self) -> None:
        launcher = {"pid": os.getpid(), "start_time": procs.process_start_time(os.getpid())}
        children = [
            {
                "name": c.name,
                "pid": c.pid,
                "start_time": c.start_time,
                "leaves_first": c.leaves_first,
            }
            for _, c in self._children
        ]
        _write_json(self._process_file, {"launcher": launcher, "children": children})

    def stop_service(self, name: str) -> None:
        """Stops one process of the running stack (an emulator going down), leaving the rest
        running; :meth:`start_service` brings it back on the same port."""
        _, child = self._child(name)
        procs.stop_children([child], grace=STOP_GRACE)

    def start_service(self, name: str) -> None:
        """Starts a stopped process again with the same command, port and environment, and
        waits until it is ready. The emulators keep their data in memory, so it comes back
        empty, as after a real restart (the Pub/Sub topic is created again)."""
        service, child = self._child(name)
        if child.exited() is None:
            raise StackError(f"{name} is still running")
        self._children.remove((service, child))
        self._launch(service)
        _, started = self._child(name)
        deadline = time.monotonic() + service.timeout
        while not service.is_ready():
            if started.exited() is not None or time.monotonic() > deadline:
                raise StackError(
                    f"{service.label} did not come back: {procs.tail(started.log_path)}"
                )
            time.sleep(0.05)
        if service.on_ready is not None:
            service.on_ready()

    def _child(self, name: str) -> tuple[_Service, procs.Child]:
        for service, child in self._children:
            if service.name == name:
                return service, child
        raise StackError(f"no process named {name!r} in this stack")

    def exited(self) -> dict[str, int]:
        """Started processes that have since ended, with their exit codes."""
        return {c.name: code for _, c in self._children if (code := c.exited()) is not None}

    def stop(self) -> None:
        """Stops the functions, then the rest, each batch at once; removes the state files."""
        if not self._children:
            return
        functions = [child for service, child in self._children if service.is_function]
        others = [child for service, child in self._children if not service.is_function]
        for batch in (functions, others):
            began = time.monotonic()
            for pgid in procs.stop_children(batch[::-1], grace=STOP_GRACE):
                log.warning("process group %d ignored SIGTERM for %.0f s: killed", pgid, STOP_GRACE)
            log.debug("stopped %s in %.2f s", [c.name for c in batch], time.monotonic() - began)
        survivors = [c.name for _, c in self._children if procs.group_members(c.pid)]
        if survivors:
            log.error("processes survived SIGKILL: %s (see %s)", survivors, self._process_file)
            return
        self._children.clear()
        self.stack_file.unlink(missing_ok=True)
        self._process_file.unlink(missing_ok=True)


def stop_recorded(
    state_dir: Path = DEFAULT_STATE_DIR, *, refuse_if_running: bool = False
) -> list[str]:
    """Stops the processes recorded in ``state_dir`` by an earlier launcher.

    If that launcher still runs it is asked to stop (SIGTERM) and given time to stop its own
    children, unless ``refuse_if_running``, which raises instead: two stacks must not share a
    state dir. Then any recorded process group still alive is stopped, unless its leader's pid
    now belongs to another process. Returns the names of the groups stopped here.
    """
    record_file = Path(state_dir) / "processes.json"
    try:
        record = json.loads(record_file.read_text())
    except FileNotFoundError:
        (Path(state_dir) / "stack.json").unlink(missing_ok=True)
        return []
    launcher = record["launcher"]
    if launcher["pid"] != os.getpid() and procs.is_alive(launcher["pid"], launcher["start_time"]):
        if refuse_if_running:
            raise StackError(
                f"a stack launched by pid {launcher['pid']} is running from {state_dir}; stop it "
                "(Ctrl-C in its terminal, or `python -m devstack down`) or use another state dir"
            )
        log.info("asking the running launcher (pid %d) to stop", launcher["pid"])
        procs.terminate(launcher["pid"], launcher["start_time"], grace=3 * STOP_GRACE + 5)
    leftovers = [
        child
        for child in record["children"]
        # A living leader that started at another time is a new process that reused the pid.
        if procs.process_start_time(child["pid"]) in (None, child["start_time"])
        and procs.group_members(child["pid"])
    ]
    for child in leftovers:
        log.warning(
            "stopping leftover %s (process group %d) of an earlier run", child["name"], child["pid"]
        )
    procs.stop_groups(
        [child["pid"] for child in leftovers],
        grace=STOP_GRACE,
        leaves_first=[child["pid"] for child in leftovers if child.get("leaves_first")],
    )
    record_file.unlink(missing_ok=True)
    (Path(state_dir) / "stack.json").unlink(missing_ok=True)
    return [child["name"] for child in leftovers]
