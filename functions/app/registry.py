"""Every cloud function of the package, in one table: the single source of truth.

``main.py`` declares one entry point per row (a test fails when the two disagree); ``boot``
validates the settings of the row an instance serves; the OpenAPI generator documents the
``browser`` rows; the local stack starts every row; ``python -m app.registry`` writes the
file Terraform deploys from (``infra/functions.json``; a test fails when it drifts).

Nothing here imports an operation: a row names its target as ``"module:attribute"``, and only
the instance that serves it imports it, so each function pays at start only for what it uses.

Kinds:
- ``browser``: called by the frontend with a Firebase ID token; public; CORS; JSON in and out.
- ``webhook``: called by Stripe; public; authenticated by the ``Stripe-Signature`` header.
- ``event``: a CloudEvent from the notifications topic's push subscription; not public.
- ``job``: called by Cloud Scheduler with an OIDC token; not public.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["browser", "webhook", "event", "job"]
SIGNATURES: dict[Kind, Literal["http", "cloudevent"]] = {
    "browser": "http",
    "webhook": "http",
    "event": "cloudevent",
    "job": "http",
}
PUBLIC_KINDS = frozenset({"browser", "webhook"})

# Environment variables that hold secrets: Secret Manager fills them in the cloud.
STRIPE_KEY = "STRIPE_SECRET_KEY"
WEBHOOK_SECRETS = "STRIPE_WEBHOOK_SECRETS"
SMTP_PASSWORD = "SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a value


Deployable = Literal["billing", "mailer"]
# The settings class each deployable loads at start, as "module:attribute" like a target: an
# instance imports only its own (the email function never imports billing).
SETTINGS: dict[Deployable, str] = {
    "billing": "billing.config:BillingSettings",
    "mailer": "mailer.config:MailSettings",
}


@dataclass(frozen=True)
class FunctionDef:
    name: str  # the Python entry point in main.py; deployed with dashes
    kind: Kind
    target: str  # "module:attribute": the operation (browser, job) or handler (webhook, event)
    settings: tuple[str, ...] = ()  # settings fields this function cannot run without
    secrets: tuple[str, ...] = (STRIPE_KEY,)  # from Secret Manager, and required at start
    # From Secret Manager when one exists, else unset: e.g. a relay that takes no login.
    optional_secrets: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()  # browser: statuses beyond the common ones (documented)
    topic: str | None = None  # event: the Settings field naming the topic it is pushed from
    deployable: Deployable = "billing"  # which package serves it, and so which settings
    # browser: read by anyone with GET, no sign-in, cacheable (billing.http.public_read)
    public_read: bool = False

    @property
    def deployed_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def signature(self) -> Literal["http", "cloudevent"]:
        return SIGNATURES[self.kind]

    @property
    def public(self) -> bool:
        return self.kind in PUBLIC_KINDS

    @property
    def required_settings(self) -> tuple[str, ...]:
        return tuple(sorted({secret.lower() for secret in self.secrets} | set(self.settings)))


@dataclass(frozen=True)
class Instance:
    """How one instance of a kind of function is deployed: chosen from ``make bench``'s
    requests per second at 1 to 16 clients and its memory figures (README "Performance").

    ``concurrency`` is Cloud Run's max_instance_request_concurrency; functions-framework runs
    one gunicorn worker (``WORKERS``) with ``THREADS`` threads, one per concurrent request.
    More than one request at a time needs a whole vCPU.
    """

    concurrency: int
    threads: int
    workers: int = 1
    cpu: str = "1"
    memory: str = "512Mi"


# Browser calls and webhook deliveries spend most of their time waiting on Stripe and
# Firestore: 8 at once keep one vCPU busy (throughput at 8 clients is within a few percent
# of 16) without queueing behind each other. The scheduled job runs alone.
INSTANCES: dict[Kind, Instance] = {
    "browser": Instance(concurrency=8, threads=8),
    "webhook": Instance(concurrency=8, threads=8),
    "event": Instance(concurrency=4, threads=4),
    "job": Instance(concurrency=1, threads=2),
}


def _browser(name: str, module: str, *, errors: tuple[int, ...] = (), **kw: Any) -> FunctionDef:
    return FunctionDef(name, "browser", f"billing.operations.{module}:{name}", errors=errors, **kw)


FUNCTIONS: tuple[FunctionDef, ...] = (
    _browser("create_customer", "customers", errors=(409,)),
    _browser(
        "create_subscription", "subscriptions", errors=(409,), settings=("allowed_price_ids",)
    ),
    _browser("handle_subscription", "subscriptions", errors=(404, 409)),
    _browser("retrieve_subscription", "subscription_status", errors=(404,)),
    _browser("retrieve_payment_method", "payment_methods", errors=(404,)),
    _browser("create_setup_intent", "payment_methods", errors=(409,)),
    _browser("update_payment_method", "payment_methods", errors=(404, 409)),
    _browser("retry_invoice", "invoices", errors=(402, 404, 409)),
    _browser(
        "preview_plan_change", "plan_changes", errors=(404, 409), settings=("allowed_price_ids",)
    ),
    _browser("change_plan", "plan_changes", errors=(404, 409), settings=("allowed_price_ids",)),
    _browser("list_invoices", "invoices", errors=(404,)),
    _browser(
        "create_checkout_session",
        "hosted_pages",
        errors=(409,),
        settings=("allowed_price_ids", "checkout_success_url", "checkout_cancel_url"),
    ),
    _browser("get_usage", "usage"),
    _browser(
        "create_portal_session", "hosted_pages", errors=(409,), settings=("portal_return_url",)
    ),
    _browser("list_plans", "pricing", settings=("allowed_price_ids",), public_read=True),
    FunctionDef(
        "stripe_webhook",
        "webhook",
        "billing.entitlements.events:handle_event",
        secrets=(STRIPE_KEY, WEBHOOK_SECRETS),
    ),
    FunctionDef(
        "reconcile",
        "job",
        "billing.operations.reconcile:reconcile",
        settings=("job_invoker_email",),
    ),
    FunctionDef(
        "send_email",
        "event",
        "mailer.handler:send_email",
        settings=("smtp_host", "mail_from", "product_name", "app_url"),
        secrets=(),
        optional_secrets=(SMTP_PASSWORD,),
        topic="notifications_topic",
        deployable="mailer",
    ),
    FunctionDef(
        "record_usage",
        "event",
        "billing.usage.metering:record_usage",
        settings=("usage_topic",),
        topic="usage_topic",
    ),
)

BY_NAME: dict[str, FunctionDef] = {fn.name: fn for fn in FUNCTIONS}


def get(name: str) -> FunctionDef:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a function of this package") from None


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_target(fn: FunctionDef) -> Any:
    return _load(fn.target)


def settings_class(deployable: Deployable) -> Any:
    """The settings class of ``deployable`` (an ``EnvSettings`` subclass), imported now."""
    return _load(SETTINGS[deployable])


def build(fn: FunctionDef) -> Callable[[Any], Any]:
    """The callable functions-framework invokes for ``fn``: its kind's policy around its target."""
    target = load_target(fn)
    if fn.deployable == "billing":
        from billing.runtime import import_client_libraries

        # list-plans reads Stripe alone (no sign-in, no customer): no Firestore.
        import_client_libraries(firestore=not fn.public_read)
    if fn.kind == "browser" and fn.public_read:
        import typing

        from billing.http.public_read import PublicReadEndpoint

        return PublicReadEndpoint(fn.name, target, typing.get_type_hints(target)["body"])
    if fn.kind == "browser":
        import typing

        from billing.http.browser import BrowserEndpoint

        model = typing.get_type_hints(target)["body"]
        return BrowserEndpoint(fn.name, target, model)
    if fn.kind == "job":
        import typing

        from billing.http.job import JobEndpoint

        return JobEndpoint(fn.name, target, typing.get_type_hints(target)["body"])
    if fn.kind == "webhook":
        from billing.http.stripe_webhook import StripeWebhookEndpoint

        return StripeWebhookEndpoint(fn.name, target)
    from app.pubsub_push import answering

    return answering(target)


_handlers: dict[str, Callable[[Any], Any]] = {}
_lock = threading.Lock()


def handler(name: str) -> Callable[[Any], Any]:
    """The built entry point for ``name``, built once per instance."""
    if name not in _handlers:
        with _lock:
            if name not in _handlers:
                _handlers[name] = build(get(name))
    return _handlers[name]


def manifest() -> dict[str, Any]:
    """What deployment needs to know of each function (``infra/functions.json``), and what
    Stripe needs to know of the webhook: the events it handles and the API version the SDK
    pins (``infra/stripe.tf`` registers the webhook endpoint with exactly these)."""
    import stripe  # only when generating the manifest: no function pays for it at start

    from billing.entitlements.events import RELEVANT

    return {
        "stripe": {"api_version": stripe.api_version, "webhook_events": sorted(RELEVANT)},
        "functions": {
            fn.deployed_name: {
                "entry_point": fn.name,
                "kind": fn.kind,
                "signature": fn.signature,
                "public": fn.public,
                "secrets": sorted(fn.secrets),
                "optional_secrets": sorted(fn.optional_secrets),
                "settings": sorted(setting.upper() for setting in fn.settings),
                "instance": asdict(INSTANCES[fn.kind]),
                **({"topic": fn.topic.upper()} if fn.topic else {}),
            }
            for fn in FUNCTIONS
        },
    }


def render_manifest() -> str:
    header = {"//": "Generated by `make infra-manifest` from functions/app/registry.py."}
    return json.dumps(header | manifest(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_manifest())
