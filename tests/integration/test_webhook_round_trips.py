"""How many Firestore round trips the webhook makes per event, counted where the RPCs leave the
process (tests/support/firestore_rpcs.py), in-process against the emulator and the stand-in.

Each number is pinned: a change that adds a round trip fails here and must say why; one that
removes one must keep every rule it served (the inbox, the sync's ordering, the claim's order,
each tested where it is defined)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing.config import BillingSettings
from billing.context import Context
from billing.entitlements.events import handle_event
from billing.runtime import Runtime
from core import call_counts
from devstack.stack import StackInfo
from tests.support.billing_flows import subscribe
from tests.support.firestore_rpcs import counting_client
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import event_for, event_record, plain

READ, WRITE = "get_document", "commit"  # each read one document: one unary GetDocument


class Users:
    """The Firebase users' custom claims, in memory (the claim is written, and read first)."""

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any]] = {}

    def custom_claims(self, uid: str) -> dict[str, Any] | None:
        return dict(self.claims.get(uid, {}))

    def set_custom_claims(self, uid: str, claims: Mapping[str, Any]) -> bool:
        self.claims[uid] = dict(claims)
        return True


class Published:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **attributes: str) -> Published:
        self.messages.append(data)
        return self

    def result(self, timeout: float | None = None) -> str:
        return "1"


def _counted(stack: StackInfo, standin: StandIn) -> tuple[Context, list[str], Users, Published]:
    client, calls = counting_client(stack.project_id, stack.firestore_emulator_host)
    settings = BillingSettings.load(
        {}, google_cloud_project=stack.project_id, stripe_secret_key="sk_test_" + "unused"
    )
    users, published = Users(), Published()
    runtime = Runtime(
        settings,
        stripe_client=standin.sdk,
        firestore_client=client,
        auth_users=users,
        publisher=published,
    )
    return Context(runtime=runtime, request_id="round-trips"), calls, users, published


def _handled(ctx: Context, event: dict[str, Any]) -> tuple[str, int]:
    """The outcome, and the round trips the product counted for itself (its log line's)."""
    with call_counts.measure() as counts:
        outcome = handle_event(ctx, event)
    return outcome, counts[call_counts.FIRESTORE]


def test_an_event_with_nothing_to_tell_makes_five_round_trips(
    user: User, paused: StandIn, stack: StackInfo
) -> None:
    created = subscribe(user, paused)
    sub = plain(paused.sdk.v1.subscriptions.retrieve(created["subscription_id"]))
    ctx, calls, users, _ = _counted(stack, paused)
    # The first event changes the user's billing claim (none yet): one look more, before the
    # claim is written (a claim is written only from a document read just before it).
    outcome, counted = _handled(ctx, event_for("customer.subscription.updated", sub))
    assert outcome == "processed"
    assert calls == [READ, WRITE, WRITE, READ, READ, WRITE]
    assert counted == len(calls)
    assert users.claims[user.uid]["billing"]["active"] is True

    calls.clear()
    event = event_for("customer.subscription.updated", sub)
    outcome, counted = _handled(ctx, event)
    assert outcome == "processed"
    assert calls == [
        READ,  # whose customer: the mapping
        WRITE,  # claim the event and take a sync ticket, one commit
        WRITE,  # the ticket and the entitlement, one batch (no read: nobody took a ticket since)
        READ,  # the claim is unchanged: is the document still the one it came from?
        WRITE,  # the event synced and done
    ]
    assert counted == len(calls)

    calls.clear()
    outcome, counted = _handled(ctx, event)
    assert outcome == "duplicate"
    assert calls == [READ, WRITE, READ]  # the mapping, a refused claim, the record: done
    assert counted == len(calls)


def test_an_event_with_a_receipt_makes_six_round_trips(
    user: User, paused: StandIn, stack: StackInfo
) -> None:
    created = subscribe(user, paused)
    sub = plain(paused.sdk.v1.subscriptions.retrieve(created["subscription_id"]))
    invoice = plain(paused.sdk.v1.invoices.retrieve(sub["latest_invoice"]))
    event = event_for("invoice.paid", invoice)
    ctx, calls, _, published = _counted(stack, paused)
    # The user's claim first (the test above counts that one look more).
    assert _handled(ctx, event_for("customer.subscription.updated", sub))[0] == "processed"
    calls.clear()
    outcome, counted = _handled(ctx, event)
    assert outcome == "processed"
    assert calls == [READ, WRITE, WRITE, READ, WRITE, WRITE]  # ... recorded, published
    assert counted == len(calls)
    assert len(published.messages) == 1
    record = event_record(ctx.runtime.firestore, event["id"])
    assert record is not None
    assert (record["status"], record["published"]) == ("done", True)
