"""End to end: a payment in Stripe becomes one receipt in the customer's mailbox, and a
redelivered Stripe event does not make a second one."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from devstack.stack import StackInfo
from tests.support.billing_flows import subscribe
from tests.support.stack_fixtures import StandIn, User
from tests.support.webhooks import wait_until


def _mails_to(stack: StackInfo, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(stack.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            found.append(message)
    return found


def test_paying_ends_as_one_receipt_in_the_mail_folder(
    user: User, standin: StandIn, stack: StackInfo
) -> None:
    subscribe(user, standin)
    [receipt] = wait_until(lambda: _mails_to(stack, user.email), "the receipt mail", timeout=90)
    text = receipt.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "$9.99" in body  # price_basic_monthly, in dollars rather than cents
    assert "/_standin/invoices/" in body  # the hosted invoice link
    html = receipt.get_body(preferencelist=("html",))
    assert html is not None
    assert "$9.99" in html.get_content()
    # Stripe delivering the same events again makes no second mail.
    paid = [e for e in standin.sdk.v1.events.list({"limit": 100}).data if e.type == "invoice.paid"]
    mine = [e for e in paid if e.data.object.to_dict().get("customer") == user.customer()]
    assert len(mine) == 1
    for _ in range(3):
        standin.post(f"/_standin/events/{mine[0].id}/redeliver")
    # Each redelivery answered (the webhook says "duplicate" and publishes nothing): no mail
    # can follow from them; the one receipt is all there is.
    wait_until(
        lambda: (status := standin.webhooks()) and not status["queued"]
        and not status["in_flight"],
        "the redeliveries to be answered",
    )  # fmt: skip
    assert len(_mails_to(stack, user.email)) == 1
