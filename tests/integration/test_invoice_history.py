"""list-invoices over HTTP: the caller's own invoices, newest first, a page at a time."""

from __future__ import annotations

import pytest

from tests.support.billing_flows import PRICE, subscribe, with_stripe_calls
from tests.support.stack_fixtures import StandIn, User

pytestmark = pytest.mark.integration

PRO = "price_pro_monthly"


def _three_invoices(user: User, standin: StandIn) -> list[str]:
    """Sign-up, upgrade, downgrade: the customer's invoices, oldest first."""
    sub_id = subscribe(user, standin)["subscription_id"]
    for price in (PRO, PRICE):
        user.ok("change-plan", {"subscription_id": sub_id, "price_id": price})
    invoices = standin.sdk.v1.invoices.list(params={"customer": user.customer()}).data
    assert len(invoices) == 3
    return [str(i.id) for i in reversed(invoices)]


def test_pages_newest_first_with_everything_a_list_shows(user: User, standin: StandIn) -> None:
    oldest, middle, newest = _three_invoices(user, standin)
    first = user.ok("list-invoices", {"limit": 2})
    assert [i["id"] for i in first["invoices"]] == [newest, middle]
    assert (first["has_more"], first["next_starting_after"]) == (True, middle)
    second = user.ok("list-invoices", {"limit": 2, "starting_after": middle})
    assert [i["id"] for i in second["invoices"]] == [oldest]
    assert (second["has_more"], second["next_starting_after"]) == (False, None)
    signup = second["invoices"][0]
    assert signup["number"]
    assert (signup["status"], signup["amount_paid"], signup["currency"]) == ("paid", 999, "usd")
    assert signup["period_end"] >= signup["period_start"]
    assert signup["hosted_invoice_url"].startswith("http")
    assert signup["invoice_pdf"].startswith("http")
    assert len(user.ok("list-invoices", {})["invoices"]) == 3


def test_another_users_invoice_is_no_cursor(user: User, other_user: User, standin: StandIn) -> None:
    theirs = _three_invoices(user, standin)[1]
    other_user.customer()
    response, calls = with_stripe_calls(
        standin, lambda: other_user.call("list-invoices", {"starting_after": theirs})
    )
    assert response.status_code == 404
    missing = other_user.call("list-invoices", {"starting_after": "in_doesnotexist"})
    assert response.json() == missing.json()
    assert [c["path"] for c in calls] == [f"/v1/invoices/{theirs}"]  # never listed


def test_no_customer_yet_means_no_invoices(user: User) -> None:
    assert user.ok("list-invoices", {}) == {
        "invoices": [],
        "has_more": False,
        "next_starting_after": None,
    }
    response = user.call("list-invoices", {"starting_after": "in_doesnotexist"})
    assert response.status_code == 404


def test_bad_page_sizes_are_400(user: User) -> None:
    for limit in (0, 101, "10"):
        response = user.call("list-invoices", {"limit": limit})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "limit"
