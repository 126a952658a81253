"""The example app (web/) in a real browser against the test stack, as a customer uses it:
sign up, pay on the hosted Checkout page (3-D Secure, declines), watch access turn on without
a reload, change plan after the preview, cancel and resume, open an invoice, see the period's
usage and limits, and use the billing portal while the account page follows it live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devstack.stack import StackInfo
from tests.browser.conftest import Visitor
from tests.support.auth_emulator import AuthEmulator
from tests.support.stack_fixtures import StandIn

pytestmark = pytest.mark.integration

THREE_D_SECURE = "4000 0027 6000 3184"
DECLINED = "4000 0000 0000 0002"
VISA = "4242 4242 4242 4242"


def _subscribe(visitor: Visitor, plan: str) -> None:
    visitor.page.get_by_role("button", name=f"Subscribe to {plan}").click()
    visitor.page.wait_for_url(re.compile(r"/_standin/checkout/sessions/cs_"))


def test_subscribe_through_checkout_with_3ds_and_access_turns_on_without_a_reload(
    page: Page, stack: StackInfo, auth: AuthEmulator, standin: StandIn
) -> None:
    visitor = Visitor(page, stack, auth)
    # The pricing page is public: a signed-out visitor sees the prices, the usage price
    # beyond the quota included, and is asked to sign in on Subscribe.
    page.goto(visitor.web)
    basic = page.locator('[data-price="price_basic_monthly"]')
    expect(basic).to_contain_text("$9.99")
    expect(basic).to_contain_text("Reports")
    expect(basic.get_by_test_id("overage")).to_have_text(
        "1,000 API calls included, then $0.02 per API call over the quota"
    )
    icon = page.request.get(f"{visitor.web}/favicon.svg")
    assert icon.ok, "the app has a favicon"
    assert "svg" in icon.headers["content-type"]
    # The plan and the promotion code chosen signed out go through sign-up and verification
    # (which reloads the page) in the sign-in page's URL, and on to Checkout without
    # choosing again (web/src/afterSignIn.ts).
    page.get_by_label("Promotion code").fill("WELCOME20")
    page.get_by_role("button", name="Subscribe to Basic (monthly)").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    expect(page.get_by_role("status")).to_have_text(
        "Sign in or create an account to subscribe to Basic."
    )
    assert page.url.endswith("/signin?plan=price_basic_monthly&promotion_code=WELCOME20")
    visitor.sign_up(on_the_form=True, lands_on=None)
    page.wait_for_url(re.compile(r"/_standin/checkout/sessions/cs_"))
    # Basic's $9.99 less WELCOME20's 20 % off the first invoice.
    expect(page.get_by_role("heading", name="Subscribe to Basic")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Basic: 9.99 USD")
    expect(page.get_by_test_id("amount")).to_have_text("7.99 USD")
    standin.post("/_standin/webhooks/pause")  # so the account page is seen before the webhook
    try:
        visitor.pay_on_checkout(THREE_D_SECURE)
        page.get_by_role("button", name="Complete authentication").click()
        page.wait_for_url(re.compile(r"/account\?checkout=done"))
        expect(page.get_by_test_id("access-state")).to_have_text("none")
        page.evaluate("window.__sameDocument = true")
    finally:
        standin.post("/_standin/webhooks/resume", {"order": "as_is"})
    expect(page.get_by_test_id("access-state")).to_have_text("active")
    assert page.evaluate("window.__sameDocument") is True, "access turned on without a reload"
    expect(page.get_by_test_id("plan")).to_have_text("Basic (monthly)")
    expect(page.get_by_test_id("claim")).to_contain_text('"plan":"prod_basic"')


# Many steps, each waiting on the page for at most TIMEOUT_MS: more than the default 300 s.
@pytest.mark.timeout(900)
def test_upgrade_after_the_preview_cancel_resume_open_an_invoice_and_use_the_portal(
    page: Page, stack: StackInfo, auth: AuthEmulator
) -> None:
    visitor = Visitor(page, stack, auth)
    visitor.sign_up()
    _subscribe(visitor, "Basic (monthly)")
    visitor.pay_on_checkout(VISA)
    expect(page.get_by_test_id("access-state")).to_have_text("active")
    # get-usage: the plan's limit per meter (the catalog's Basic includes 1,000 API calls).
    expect(page.get_by_test_id("usage-api_calls")).to_contain_text("1,000")

    page.get_by_role("button", name="Switch to Pro (monthly)").click()
    shown = page.get_by_test_id("preview-amount").inner_text()
    assert shown.startswith("$")
    page.get_by_role("button", name="Confirm change").click()
    expect(page.get_by_role("status")).to_contain_text(f"{shown} charged now")
    expect(page.get_by_test_id("plan")).to_have_text("Pro (monthly)")
    expect(page.get_by_test_id("features")).to_contain_text("api_access")
    expect(page.get_by_test_id("usage-api_calls")).to_contain_text("10,000")

    page.get_by_role("button", name="Cancel at period end").click()
    expect(page.get_by_test_id("renewal")).to_contain_text("Cancels at period end")
    expect(page.get_by_test_id("access-state")).to_have_text("active")
    page.get_by_role("button", name="Resume subscription").click()
    expect(page.get_by_test_id("renewal")).not_to_contain_text("Cancels")
    expect(page.get_by_role("button", name="Cancel at period end")).to_be_visible()

    rows = page.get_by_test_id("invoices").locator("tbody tr")
    expect(rows).to_have_count(2)
    with page.expect_popup() as opened:
        rows.last.get_by_role("link", name="View").click()
    invoice = opened.value
    expect(invoice.get_by_role("heading", name=re.compile("Invoice"))).to_be_visible()
    expect(invoice.locator("body")).to_contain_text("paid")
    invoice.close()

    # The billing portal (the stand-in's page: what the saved configuration allows), with the
    # account page open in another tab, which follows each change live, without a reload.
    account = page.context.new_page()
    account.goto(f"{visitor.web}/account")
    expect(account.get_by_test_id("plan")).to_have_text("Pro (monthly)")
    account.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Open the billing portal").click()
    page.wait_for_url(re.compile(r"/_standin/billing_portal/sessions/bps_"))
    # A plan with usage (its metered price is a second item) is changed in the app: Stripe's
    # portal can only cancel it (its "Limitations"), so the page offers no switch.
    expect(page.get_by_test_id("cancel-only")).to_be_visible()
    expect(page.get_by_role("button", name="Switch to price_basic_monthly")).to_have_count(0)
    page.get_by_role("button", name="Cancel plan").click()
    expect(page.get_by_test_id("cancels")).to_contain_text("will be canceled")
    expect(account.get_by_test_id("renewal")).to_contain_text("Cancels at period end")
    expect(account.get_by_test_id("access-state")).to_have_text("active")
    assert account.evaluate("window.__sameDocument") is True, "followed the portal without a reload"
    page.get_by_role("link", name="Return").click()
    page.wait_for_url(re.compile(r"/account"))
    expect(page.get_by_test_id("renewal")).to_contain_text("Cancels at period end")


def test_a_declined_card_shows_the_decline_and_leaves_no_subscription(
    page: Page, stack: StackInfo, auth: AuthEmulator, standin: StandIn
) -> None:
    visitor = Visitor(page, stack, auth)
    visitor.sign_up()
    _subscribe(visitor, "Pro (monthly)")
    visitor.pay_on_checkout(DECLINED)
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    page.get_by_role("link", name="Back").click()
    page.get_by_role("heading", name="Pricing").wait_for()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_text("No subscription yet")).to_be_visible()
    [customer] = standin.sdk.v1.customers.list(params={"email": visitor.email}).data
    subscriptions = standin.sdk.v1.subscriptions.list(
        params={"customer": customer.id, "status": "all"}
    )
    assert subscriptions.data == []

    # A sign-in link names a plan the app does not sell, or a page elsewhere: refused in words,
    # no Checkout started, the visitor stays in the app (web/src/afterSignIn.ts).
    page.goto(f"{visitor.web}/signin?plan=price_not_sold")
    expect(page.get_by_role("alert")).to_have_text(
        'The plan "price_not_sold" is not one we offer now; choose one below.'
    )
    expect(page).to_have_url(f"{visitor.web}/pricing")
    page.goto(f"{visitor.web}/signin?next=https%3A%2F%2Fevil.example%2Faccount")
    expect(page.get_by_role("alert")).to_contain_text(
        'The link asks to open "https://evil.example/account" after sign-in'
    )
    expect(page).to_have_url(f"{visitor.web}/pricing")
    # A link naming a plan we do sell, opened signed in but not chosen in this tab (a mail, a
    # forged link): shown, and paid for only on a click; going on by itself would start a
    # Checkout (and end the one open) for whoever opens it.
    page.goto(f"{visitor.web}/signin?plan=price_basic_monthly&promotion_code=WELCOME20")
    expect(page.get_by_test_id("link-asks")).to_contain_text(
        "The link you opened asks to subscribe you to Basic (monthly) with the promotion code "
        "WELCOME20. Continue only if you meant to."
    )
    expect(page).to_have_url(f"{visitor.web}/pricing")
    sessions = standin.sdk.v1.checkout.sessions.list(params={"customer": customer.id})
    assert len(sessions.data) == 1, "only the declined one: the links started none"
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/_standin/checkout/sessions/cs_"))
    expect(page.get_by_test_id("amount")).to_have_text("7.99 USD")


def test_a_second_user_sees_none_of_the_first_users_data(
    context: BrowserContext, page: Page, stack: StackInfo, auth: AuthEmulator, browser_2: Page
) -> None:
    first = Visitor(page, stack, auth)
    first.sign_up()
    _subscribe(first, "Basic (monthly)")
    first.pay_on_checkout(VISA)
    expect(page.get_by_test_id("access-state")).to_have_text("active")
    number = page.get_by_test_id("invoices").locator("tbody tr td").first.inner_text()

    second = Visitor(browser_2, stack, auth)
    second.sign_up()
    browser_2.get_by_role("link", name="Account").click()
    expect(browser_2.get_by_text("No subscription yet")).to_be_visible()
    expect(browser_2.get_by_test_id("access-state")).to_have_text("none")
    content = browser_2.content()
    assert first.email not in content
    assert number not in content
    assert browser_2.get_by_test_id("invoices").count() == 0


# The plan chosen before signing in lives in the sign-in page's URL (web/src/afterSignIn.ts):
# what the address says is what the tab goes on with, whichever way the visitor got there.
CHECKOUT = re.compile(r"/_standin/checkout/sessions/cs_")


def test_sign_in_in_the_header_keeps_the_plan_chosen(
    page: Page, stack: StackInfo, auth: AuthEmulator
) -> None:
    visitor = Visitor(page, stack, auth)
    visitor.has_verified_account()
    page.goto(f"{visitor.web}/pricing")
    page.get_by_role("button", name="Subscribe to Pro (monthly)").click()
    chosen = f"{visitor.web}/signin?plan=price_pro_monthly"
    expect(page).to_have_url(chosen)
    # The header's Sign in, clicked on the sign-in page, leads where the visitor already is.
    page.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(chosen)
    visitor.sign_in()
    page.wait_for_url(CHECKOUT)
    expect(page.get_by_role("heading", name="Subscribe to Pro")).to_be_visible()


def test_a_plan_backed_out_of_is_not_taken_up_when_the_tab_signs_in_later(
    context: BrowserContext, page: Page, stack: StackInfo, auth: AuthEmulator, standin: StandIn
) -> None:
    visitor = Visitor(page, stack, auth)
    visitor.has_verified_account()
    page.goto(f"{visitor.web}/pricing")
    page.get_by_role("button", name="Subscribe to Basic (monthly)").click()
    expect(page).to_have_url(f"{visitor.web}/signin?plan=price_basic_monthly")
    page.go_back()
    expect(page).to_have_url(f"{visitor.web}/pricing")
    # The visitor signs in in another tab; this one follows (Firebase shares the sign-in
    # between a browser's tabs) while it shows the plans the visitor went back to.
    other = context.new_page()
    other.goto(f"{visitor.web}/signin")
    visitor.sign_in(other)
    other.get_by_role("heading", name="Pricing").wait_for()
    other.close()
    expect(page.get_by_role("button", name=f"Sign out ({visitor.email})")).to_be_visible()
    expect(page.get_by_test_id("continuing")).to_have_count(0)
    expect(page.get_by_test_id("link-asks")).to_have_count(0)
    # Basic, backed out of, is neither paid for nor offered: the visitor's next choice is the
    # only Checkout there is.
    page.get_by_role("button", name="Subscribe to Pro (monthly)").click()
    page.wait_for_url(CHECKOUT)
    expect(page.get_by_role("heading", name="Subscribe to Pro")).to_be_visible()
    [customer] = standin.sdk.v1.customers.list(params={"email": visitor.email}).data
    sessions = standin.sdk.v1.checkout.sessions.list(params={"customer": customer.id}).data
    assert len(sessions) == 1, "one Checkout, for Pro: none for the plan backed out of"
