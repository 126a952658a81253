"""Which of Stripe's refusals of a portal session mean "the portal has no saved settings"
(answered as portal_not_configured) and which are other problems (left to the generic
mapping): the integration test meets the first through the stand-in; these pin the rule."""

from __future__ import annotations

import pytest
import stripe

from billing.operations.hosted_pages import _portal_not_saved

# Stripe's answer on an account whose portal settings were never saved (quoted in
# https://github.com/mozilla/fxa/issues/13245).
NOT_SAVED = (
    "You can\u2019t create a portal session in test mode until you save your customer portal "
    "settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal."
)


@pytest.mark.parametrize(
    ("message", "param", "expected"),
    [
        (NOT_SAVED, None, True),
        (NOT_SAVED.replace("test mode", "live mode"), None, True),
        ("No such configuration: 'bpc_123'", "configuration", True),
        ("The configuration is inactive.", "configuration", True),
        ("No such customer: 'cus_123'", "customer", False),
        ("Not a valid URL", "return_url", False),
        ("Invalid API version", None, False),
    ],
)
def test_only_missing_portal_settings_count(
    message: str, param: str | None, expected: bool
) -> None:
    error = stripe.InvalidRequestError(message, param, http_status=400)
    assert _portal_not_saved(error) is expected
