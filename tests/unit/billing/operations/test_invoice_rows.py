"""list-invoices' row, read from the JSON Stripe sent: a field Stripe may leave out is no 500.

Stripe documents a draft's URLs as null until it is finalized ("If the invoice has not been
finalized yet, this will be null": ``hosted_invoice_url`` in the invoice object's reference,
https://docs.stripe.com/api/invoices/object), and the stand-in sends them so. The row reads
every such field with ``.get`` all the same, so an answer that leaves one out shows it as null
instead of failing the whole page.
"""

from __future__ import annotations

from typing import Any

from billing.operations.invoices import _row

BASE: dict[str, Any] = {
    "id": "in_1",
    "object": "invoice",
    "total": 999,
    "amount_due": 999,
    "amount_paid": 0,
    "currency": "usd",
    "created": 1_790_000_000,
    "period_start": 1_790_000_000,
    "period_end": 1_792_600_000,
}


def test_a_draft_that_omits_its_number_urls_and_schedule_is_a_row_of_nulls() -> None:
    row = _row({**BASE, "status": "draft", "auto_advance": True})
    assert (row.number, row.hosted_invoice_url, row.invoice_pdf) == (None, None, None)
    assert (row.charges_at, row.next_payment_attempt) == (None, None)
    assert (row.id, row.status, row.amount_due) == ("in_1", "draft", 999)


def test_a_renewal_draft_says_when_stripe_charges_it_and_an_open_one_its_next_attempt() -> None:
    draft = _row(
        {
            **BASE,
            "status": "draft",
            "auto_advance": True,
            "automatically_finalizes_at": 1_792_603_600,
        }
    )
    assert draft.charges_at == 1_792_603_600
    held = _row({**BASE, "status": "draft", "auto_advance": False, "automatically_finalizes_at": 1})
    assert held.charges_at is None  # an unpaid subscription's drafts are never charged
    failed = _row(
        {
            **BASE,
            "status": "open",
            "number": "ABC-0001",
            "hosted_invoice_url": "https://invoice.stripe.com/i/x",
            "invoice_pdf": "https://pay.stripe.com/invoice/x/pdf",
            "next_payment_attempt": 1_792_776_400,
        }
    )
    assert (failed.number, failed.next_payment_attempt) == ("ABC-0001", 1_792_776_400)
    assert failed.hosted_invoice_url == "https://invoice.stripe.com/i/x"
    assert failed.charges_at is None
