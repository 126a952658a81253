"""retrieve_subscription: the caller's subscription as Stripe has it now, and the caller's
entitlement refreshed when it says otherwise."""

from __future__ import annotations

import logging
import time

from billing.context import Context, RequestModel
from billing.entitlements import sync
from billing.operations._ownership import SubscriptionId
from billing.operations._views import SubscriptionView, owned_subscription, subscription_view
from core import parallel

log = logging.getLogger(__name__)


class SubscriptionRequest(RequestModel):
    subscription_id: SubscriptionId


def retrieve_subscription(ctx: Context, body: SubscriptionRequest) -> SubscriptionView:
    """The caller's subscription: status, plan, period, invoice, payment method.

    Also refreshes the caller's ``entitlements/{uid}`` through the webhook's own sync when what
    Stripe says of this subscription differs from what the document holds, so a UI that has
    just confirmed a payment sees it without waiting for the webhook. The document is read
    while Stripe is; when nothing differs (most calls), no sync runs: two Stripe reads and
    three Firestore round trips fewer."""
    uid = ctx.user.uid
    with parallel.Background(lambda: sync.stored(ctx, uid)) as stored:
        customer, sub = owned_subscription(ctx, body.subscription_id)
        try:
            document = stored.result()
        except Exception as exc:  # noqa: BLE001 - unknown is a difference: the sync decides
            log.warning("entitlement read failed: %s", type(exc).__name__)
            document = None
    settings = ctx.runtime.settings
    if sync.already_says(document, uid, customer, sub, settings, int(time.time())):
        return subscription_view(sub)
    try:
        sync.sync(ctx, uid, customer)
    except Exception as exc:  # noqa: BLE001 - the answer stands; the webhook keeps it right
        log.warning("entitlement refresh failed: %s", type(exc).__name__)
    return subscription_view(sub)
