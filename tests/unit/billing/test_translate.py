"""Stripe's refusals: the caller sees a generic payment_provider_rejected, the operator's log
has Stripe's message and request id (issue 15, point 17)."""

from __future__ import annotations

import logging

import pytest
import stripe

from billing.translate import from_stripe


def test_a_rejection_logs_stripes_message_and_request_id_and_answers_neither(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exc = stripe.InvalidRequestError(
        "No such price: 'price_gone'",
        param="items[0][price]",
        code="resource_missing_not",
        json_body={
            "error": {"message": "No such price: 'price_gone'", "type": "invalid_request_error"}
        },
        headers={"request-id": "req_abc123"},
    )
    with caplog.at_level(logging.WARNING, logger="billing.translate"):
        error = from_stripe(exc)
    assert error.code == "payment_provider_rejected"
    assert "price_gone" not in error.message
    assert "req_abc123" not in error.message
    [record] = [r for r in caplog.records if r.getMessage() == "stripe rejected a request"]
    assert record.stripe_message == "No such price: 'price_gone'"  # type: ignore[attr-defined]
    assert record.stripe_request_id == "req_abc123"  # type: ignore[attr-defined]
    assert record.stripe_param == "items[0][price]"  # type: ignore[attr-defined]
