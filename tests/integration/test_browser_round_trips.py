"""How many Firestore round trips the browser functions make, and which RPCs: counted where
they leave the process (tests/support/firestore_rpcs.py), in-process against the emulator and
the stand-in. Each single-document read is one GetDocument call (``core.firestore
.get_document``), never the BatchGetDocuments stream the library's ``get()`` sends for one
document. The webhook's counts are in test_webhook_round_trips.py."""

from __future__ import annotations

from collections import Counter
from typing import Any

from billing.auth import Caller
from billing.config import BillingSettings
from billing.context import Context
from billing.operations.customers import CreateCustomerRequest, create_customer
from billing.operations.subscription_status import SubscriptionRequest, retrieve_subscription
from billing.operations.usage import UsageRequest, get_usage
from billing.runtime import Runtime
from core import call_counts
from devstack.stack import StackInfo
from tests.support.billing_flows import subscribe
from tests.support.firestore_rpcs import counting_client
from tests.support.stack_fixtures import StandIn, User

GET, WRITE = "get_document", "commit"


def _as(user: User, stack: StackInfo, standin: StandIn) -> tuple[Context, list[str]]:
    client, calls = counting_client(stack.project_id, stack.firestore_emulator_host)
    settings = BillingSettings.load(
        {}, google_cloud_project=stack.project_id, stripe_secret_key="sk_test_" + "unused"
    )
    runtime = Runtime(settings, stripe_client=standin.sdk, firestore_client=client)
    caller = Caller(uid=user.uid, email=user.email, email_verified=True)
    return Context(runtime=runtime, request_id="round-trips", caller=caller), calls


def _run(calls: list[str], operation: Any, ctx: Context, body: Any) -> Counter[str]:
    """The operation's RPCs (reads run at once, so their order is not pinned), checked
    against the round trips the product counted for itself (its log line's)."""
    calls.clear()
    with call_counts.measure() as counts:
        operation(ctx, body)
    assert counts[call_counts.FIRESTORE] == len(calls)
    return Counter(calls)


def test_retrieve_subscription_reads_two_documents_and_writes_only_when_stripe_differs(
    user: User, paused: StandIn, stack: StackInfo
) -> None:
    created = subscribe(user, paused)
    ctx, calls = _as(user, stack, paused)
    body = SubscriptionRequest(subscription_id=created["subscription_id"])
    # The webhook is held: the document does not say what Stripe says yet. The caller's
    # customer and the entitlement read; the sync takes its ticket and writes.
    assert _run(calls, retrieve_subscription, ctx, body) == {GET: 2, WRITE: 2}
    # Now it does: the two reads, nothing else.
    assert _run(calls, retrieve_subscription, ctx, body) == {GET: 2}


def test_get_usage_and_create_customer_again_read_single_documents(
    user: User, paused: StandIn, stack: StackInfo
) -> None:
    subscribe(user, paused)
    ctx, calls = _as(user, stack, paused)
    assert _run(calls, get_usage, ctx, UsageRequest()) == {GET: 2}  # entitlement, counts
    assert _run(calls, create_customer, ctx, CreateCustomerRequest()) == {GET: 1}  # the mapping
