"""One document per user, ``entitlements/{uid}``: is this user paid, for what, until when.

Sync, not replay: whatever triggered it (a webhook event, a browser call, the reconcile
command), :func:`sync` re-reads the customer's subscriptions and active Stripe Entitlements
from Stripe and writes the whole document, so duplicates and any arrival order end in the
state Stripe holds.

Two syncs of one customer may race (``created`` and ``updated`` delivered at once). Each takes
a ticket before it reads Stripe (the commit time of a write to ``entitlement_syncs/{uid}``,
strictly increasing per document), and writes only if no sync with a later ticket has written
since: a slower, older read never overwrites a newer one. The write is a compare-and-set on
the ticket document, so two writers cannot both pass the check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from billing import statuses
from billing.context import Context
from billing.errors import UpstreamUnavailable
from billing.stripe_api import raw
from billing.stripe_api.schedule import scheduled_change
from billing.translate import is_resource_missing
from billing.usage import plans
from core import call_counts, parallel
from core.firestore import doc_id, firestore_retry, get_document

if TYPE_CHECKING:
    from google.cloud import firestore

    from billing.config import BillingSettings

log = logging.getLogger(__name__)

ENTITLEMENTS = "entitlements"
SYNCS = "entitlement_syncs"
NO_SUBSCRIPTION = "none"
# Stripe "creates and manages an Active Entitlement" when a customer subscribes to a product
# with features and "notifies you about when to provision" them
# (https://docs.stripe.com/billing/entitlements) with
# entitlements.active_entitlement_summary.updated: the list is derived from the subscription
# and may lag the payment, so a read right after invoice.paid can find it still empty. For this
# long after the latest invoice was paid, an empty list is read as "not computed yet".
ENTITLEMENT_LAG_SECONDS = 600

type Raw = raw.Json
_CAS_ATTEMPTS = 8


@dataclass(frozen=True)
class Entitlement:
    """What the app reads. Every field is always present (null where there is no value)."""

    uid: str
    customer_id: str
    active: bool
    status: str  # the chosen subscription's Stripe status, or "none"
    subscription_id: str | None
    price_id: str | None
    product_id: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    trial_end: int | None
    past_due_since: int | None
    valid_until: int | None  # paid (or in grace) until then, if nothing changes
    features: list[str] = field(default_factory=list)  # Stripe Entitlements lookup keys
    # Quotas (billing.usage): {meter event name: {"included": n, "overage": bool}} and the
    # period they count in, {"start", "end"}; the free plan's limits when not active.
    limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage_period: dict[str, int] | None = None
    # A plan change scheduled for later (DOWNGRADE_POLICY=period_end): the plan that starts
    # then, and when. Until then everything above is the current plan's.
    pending_price_id: str | None = None
    pending_from: int | None = None

    def document(self) -> dict[str, Any]:
        return asdict(self)


def _current(subs: Sequence[Raw]) -> Raw | None:
    """The subscription that best describes the user's access: the best-ranked live one,
    else the newest (an ended one says why access stopped)."""
    if not subs:
        return None
    return min(subs, key=lambda sub: (statuses.rank(sub["status"]), -sub["created"]))


def _past_due_since(sub: Raw) -> int | None:
    if sub["status"] != "past_due":
        return None
    invoice = sub.get("latest_invoice")
    if not isinstance(invoice, Mapping):
        return None
    transitions = invoice.get("status_transitions") or {}
    finalized: int | None = transitions.get("finalized_at")
    return finalized or invoice["created"]


def evaluate(
    uid: str,
    customer_id: str,
    subs: Sequence[Raw],
    feature_keys: list[str],
    settings: BillingSettings,
    now: int,
) -> Entitlement:
    """``subs``: the customer's subscriptions as Stripe's API sends them (JSON objects)."""
    sub = _current(subs)
    if sub is None:
        return Entitlement(
            uid, customer_id, False, NO_SUBSCRIPTION, None, None, None, None, False, None, None,
            None, plans.free_features(), _free_limits(),
        )  # fmt: skip
    status: str = sub["status"]
    items = sub["items"]["data"]
    period_end = max((item["current_period_end"] for item in items), default=None)
    since = _past_due_since(sub)
    grace_days = settings.past_due_grace_days
    active = statuses.grants_access(
        status,
        access_statuses=frozenset(settings.access_statuses),
        past_due_since=since,
        grace_days=grace_days,
        now=now,
    )
    trial_end: int | None = sub.get("trial_end")
    valid_until: int | None = None
    if active:
        if status == "trialing" and trial_end:
            valid_until = trial_end
        elif status == "past_due" and since is not None:
            valid_until = since + grace_days * statuses.DAY
        else:
            valid_until = period_end
    price = items[0]["price"] if items else None
    product = price["product"] if price else None
    pending = scheduled_change(sub) if status in statuses.LIVE else None
    if pending is not None and price is not None and pending[0] == price["id"]:
        pending = None
    if active and not feature_keys and _just_paid(sub, now):
        # Entitlements lag the payment: rather than active with no features (which the summary
        # event would correct moments later), the plan's features as the catalog attaches them
        # to its product in Stripe; the summary's sync then writes Stripe's own list.
        feature_keys = plans.subscription_features(items)
    return Entitlement(
        uid=uid,
        customer_id=customer_id,
        active=active,
        status=status,
        subscription_id=sub["id"],
        price_id=price["id"] if price else None,
        product_id=product["id"] if isinstance(product, Mapping) else product,
        current_period_end=period_end,
        cancel_at_period_end=bool(sub["cancel_at_period_end"]),
        trial_end=trial_end,
        past_due_since=since,
        valid_until=valid_until,
        # Stripe keeps entitlements through past_due, unpaid and paused: what the user may use
        # follows this app's access policy, not only Stripe's list. Without access, the free
        # plan's features and limits: everyone is gated the same way.
        features=sorted(set(feature_keys)) if active else plans.free_features(),
        limits=plans.subscription_limits(items) if active else _free_limits(),
        usage_period=_usage_period(items, period_end) if active else None,
        pending_price_id=pending[0] if pending else None,
        pending_from=pending[1] if pending else None,
    )


def _just_paid(sub: Raw, now: int) -> bool:
    invoice = sub.get("latest_invoice")
    if not isinstance(invoice, Mapping) or invoice.get("status") != "paid":
        return False
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    # Stripe's time, not this instance's: a paid_at ahead of the wall clock (clock skew, or a
    # customer on a test clock moved ahead) is just paid too, never "long ago".
    return isinstance(paid_at, int) and now - paid_at <= ENTITLEMENT_LAG_SECONDS


def _usage_period(items: Sequence[Raw], end: int | None) -> dict[str, int] | None:
    starts = [item.get("current_period_start") for item in items]
    known = [start for start in starts if isinstance(start, int)]
    if end is None or not known or len(known) != len(starts):
        return None
    return {"start": min(known), "end": end}


def _free_limits() -> dict[str, dict[str, Any]]:
    return {
        meter: {"included": limit.included, "overage": limit.overage}
        for meter, limit in plans.free_limits().items()
    }


def read(ctx: Context, uid: str, customer_id: str) -> Entitlement:
    """The customer's entitlement as Stripe has it now (two Stripe reads, more for a customer
    with over 100 features or subscriptions: every page is read; no write)."""
    import stripe  # loaded already: the client above needed it

    client = ctx.runtime.stripe
    try:
        with parallel.Background(
            lambda: raw.get_all(
                client, "/v1/entitlements/active_entitlements", customer=customer_id, limit=100
            )
        ) as entitlements:
            subs = raw.get_all(
                client,
                "/v1/subscriptions",
                customer=customer_id,
                status="all",
                limit=100,
                # The schedule's phases say which plan starts at the period end, if any.
                expand=["data.latest_invoice", "data.schedule"],
            )
            keys = [entitlement["lookup_key"] for entitlement in entitlements.result()]
    except stripe.InvalidRequestError as exc:
        if not is_resource_missing(exc):
            raise
        # The customer was deleted in Stripe (the Dashboard, a data request): nothing of theirs
        # is paid for any more, so the document must say so rather than keep the last state.
        log.warning("customer no longer exists in Stripe: no access", extra={"uid": uid})
        return evaluate(uid, customer_id, [], [], ctx.runtime.settings, int(time.time()))
    return evaluate(uid, customer_id, subs, keys, ctx.runtime.settings, int(time.time()))


def stored(ctx: Context, uid: str) -> dict[str, Any] | None:
    """``entitlements/{uid}`` as written, or None (one single-document read)."""
    rt = ctx.runtime
    timeout = rt.settings.firestore_timeout_seconds
    call_counts.count(call_counts.FIRESTORE)
    snapshot = get_document(
        rt.firestore.collection(ENTITLEMENTS).document(doc_id(uid)),
        timeout=timeout,
        retry=firestore_retry(timeout),
    )
    return snapshot.to_dict() if snapshot.exists else None


def already_says(
    document: Mapping[str, Any] | None,
    uid: str,
    customer_id: str,
    sub: Raw,
    settings: BillingSettings,
    now: int,
) -> bool:
    """Whether ``document`` (``entitlements/{uid}`` as stored) already says what ``sub``, as
    Stripe sent it just now, would make a sync write: then a sync would change nothing.

    Only a document that describes this very subscription can say so. Every field is compared
    as :func:`evaluate` derives it from ``sub`` (status, price, product, period, cancellation,
    trial, past-due grace measured at ``now``), with the features the document holds, which
    this subscription alone cannot tell: a feature change reaches the document through its
    own event (``entitlements.active_entitlement_summary.updated``). Anything else, a missing
    document or one about another subscription included, is a difference: refresh."""
    if document is None or document.get("subscription_id") != sub["id"]:
        return False
    if sub.get("schedule") is not None and not isinstance(sub["schedule"], Mapping):
        return False  # a schedule's phases unread: what starts at the period end is unknown
    features = document.get("features")
    if not isinstance(features, list):
        return False
    expected = evaluate(uid, customer_id, [sub], features, settings, now).document()
    return all(key in document and document[key] == value for key, value in expected.items())


def _ticket_ns(moment: datetime) -> int:
    nanos = getattr(moment, "nanosecond", moment.microsecond * 1000)
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()) * 10**9 + nanos


@dataclass(frozen=True)
class SyncResult:
    entitlement: Entitlement
    written: bool  # False when a newer sync had already written
    version: int = 0  # the ticket written as the document's version, when written


type Reader = Callable[[Context, str, str], Entitlement]


def take_ticket(batch: firestore.WriteBatch, db: firestore.Client, uid: str) -> None:
    """Adds taking ``uid``'s sync ticket to ``batch``: its write's update time, once committed,
    is the ticket :func:`sync` takes as ``taken``. The webhook commits it with the event's
    claim, one round trip for both: the ticket is still taken before Stripe is read, and a
    claim refused (a duplicate) takes no ticket."""
    from google.cloud import firestore

    batch.set(
        db.collection(SYNCS).document(doc_id(uid)),
        {"requested_at": firestore.SERVER_TIMESTAMP},
        merge=True,
    )


def sync(
    ctx: Context,
    uid: str,
    customer_id: str,
    reader: Reader | None = None,
    taken: datetime | None = None,
) -> SyncResult:
    """Re-read the customer from Stripe and write ``entitlements/{uid}``, unless a sync that
    started later has already written. ``reader`` replaces the Stripe read (tests); ``taken``
    is the update time of a ticket the caller took with :func:`take_ticket` just before.

    Two Firestore round trips when no other sync of the user runs meanwhile: take the ticket
    (none when the caller took it), then write. The write is a compare-and-set on the ticket
    document's update time as our take left it: while it is unchanged, no other sync took a
    ticket or wrote since ours, so every ticket applied so far is older than ours and the
    document need not be read. Any write in between fails that precondition, and only then is
    the document read to decide."""
    from google.api_core.exceptions import Conflict, FailedPrecondition
    from google.cloud import firestore

    rt = ctx.runtime
    db = rt.firestore
    timeout = rt.settings.firestore_timeout_seconds
    retry = firestore_retry(timeout)
    ticket_ref = db.collection(SYNCS).document(doc_id(uid))
    if taken is None:
        call_counts.count(call_counts.FIRESTORE)
        taken = ticket_ref.set(
            {"requested_at": firestore.SERVER_TIMESTAMP}, merge=True, timeout=timeout, retry=retry
        ).update_time
    ticket = _ticket_ns(taken)
    entitlement = (reader or read)(ctx, uid, customer_id)
    doc_ref = db.collection(ENTITLEMENTS).document(doc_id(uid))
    expected = taken
    for attempt in range(_CAS_ATTEMPTS):
        if attempt:
            call_counts.count(call_counts.FIRESTORE)
            snapshot = get_document(ticket_ref, timeout=timeout, retry=retry)
            applied = (snapshot.to_dict() or {}).get("applied_ticket", 0)
            if applied >= ticket:
                log.info("newer sync already written; this read is dropped", extra={"uid": uid})
                return SyncResult(entitlement, False)
            expected = snapshot.update_time
        batch = db.batch()
        batch.update(
            ticket_ref,
            {"applied_ticket": ticket},
            option=db.write_option(last_update_time=expected),
        )
        batch.set(
            doc_ref,
            entitlement.document() | {"updated_at": firestore.SERVER_TIMESTAMP, "version": ticket},
        )
        call_counts.count(call_counts.FIRESTORE)
        try:
            batch.commit(timeout=timeout, retry=retry)
        except (FailedPrecondition, Conflict):
            continue  # another sync took a ticket or wrote in between: look again
        log.info(
            "entitlement synced",
            extra={"uid": uid, "status": entitlement.status, "active": entitlement.active},
        )
        return SyncResult(entitlement, True, ticket)
    raise UpstreamUnavailable("Too many concurrent updates of this account; retry shortly.")
