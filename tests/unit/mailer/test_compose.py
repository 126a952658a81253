"""Every mail renders, says what it must, and cannot be bent by what a user typed."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from billing.errors import ConfigError
from mailer.compose import Brand, Composer, message_id, recipient
from mailer.contract import Notification, Unsendable, parse
from tests.conftest import mail_settings
from tools.mail_samples import SAMPLES, notification

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BILLING_URL = "https://app.example.com/settings/billing"
INVOICE_URL = "https://invoice.stripe.com/i/acct_1Preview/test_preview"
PDF_URL = "https://pay.stripe.com/invoice/acct_1Preview/test_preview/pdf"


def _notification(document: dict[str, Any]) -> Notification:
    return parse(json.dumps(document).encode())


def compose(document: dict[str, Any], **settings: Any) -> EmailMessage:
    composer = Composer(Brand.from_settings(mail_settings(**settings)))
    note = _notification(document)
    sent = composer.compose(note, recipient(note), NOW)
    # What the receiver gets: the bytes on the wire, parsed back.
    parsed = email.message_from_bytes(sent.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_mail_has_a_text_and_an_html_part_and_proper_headers(name: str) -> None:
    message = compose(SAMPLES[name])
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert text(message).strip()
    assert html(message).lstrip().startswith("<!DOCTYPE html>")
    assert str(message["From"]) == "Acme Cloud <billing@example.com>"
    assert [a.addr_spec for a in message["To"].addresses] == [SAMPLES[name]["email"]]
    assert str(message["Reply-To"]) == "support@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert str(message["Message-ID"]).strip().endswith(".notification@example.com>")
    assert message["Subject"]
    assert "support@example.com" in text(message)
    assert 'href="https://app.example.com"' in html(message)


@pytest.mark.parametrize(
    ("name", "amount", "not_amount"),
    [
        ("payment_succeeded-usd", "$19.99", "$1,999"),
        ("payment_succeeded-jpy", "¥1,500", "¥15.00"),
        ("payment_succeeded-kwd", "KWD12.345", "KWD123.45"),
    ],
)
def test_a_receipt_states_the_amount_in_its_currency(
    name: str, amount: str, not_amount: str
) -> None:
    message = compose(SAMPLES[name])
    for where in (str(message["Subject"]), text(message), html(message)):
        assert amount in where
        assert not_amount not in where
    assert "Mar 1\u2009\u2013\u2009Apr 1, 2026" in text(message)  # CLDR puts thin spaces there
    assert "ACME-0042" in html(message)
    assert f'href="{INVOICE_URL}"' in html(message)
    assert f'href="{PDF_URL}"' in html(message)
    assert INVOICE_URL in text(message)


def test_a_failed_payment_says_when_it_is_retried_and_where_to_update_the_card() -> None:
    message = compose(SAMPLES["payment_failed-retrying"])
    assert "$49.00" in str(message["Subject"])
    for body in (text(message), html(message)):
        assert "did not go through" in body
        assert "March 4, 2026" in body
    assert f'href="{BILLING_URL}"' in html(message)
    assert f'href="{INVOICE_URL}"' in html(message)
    assert BILLING_URL in text(message)


def test_a_final_failed_payment_says_there_is_no_retry() -> None:
    message = compose(SAMPLES["payment_failed-final"])
    assert "¥5,000" in text(message)
    assert "will not try again" in text(message)
    assert text(message).count("Hello,") == 1  # no name: no "Hi None"
    assert "None" not in text(message) + html(message)


def test_an_action_required_mail_links_to_the_confirmation() -> None:
    message = compose(SAMPLES["payment_action_required"])
    assert "KWD12.340" in str(message["Subject"])
    assert "3-D Secure" in text(message)
    assert f'<a href="{INVOICE_URL}"' in html(message)


def test_a_cancellation_says_until_when_access_lasts_or_that_it_ended() -> None:
    pending = compose(SAMPLES["subscription_canceled-at-period-end"])
    assert "will not renew" in text(pending)
    assert "April 1, 2026" in text(pending)
    assert "is canceled" in str(pending["Subject"])
    ended = compose(SAMPLES["subscription_canceled-ended"])
    assert "ended on April 1, 2026" in text(ended)
    assert "has ended" in str(ended["Subject"])
    assert f'href="{BILLING_URL}"' in html(ended)


def test_a_trial_ending_mail_gives_the_date_and_marks_test_mode() -> None:
    message = compose(SAMPLES["trial_will_end"])
    assert str(message["Subject"]) == "[Test mode] Your Acme Pro trial ends on March 4, 2026"
    assert "March 4, 2026" in html(message)
    assert "Test mode" in text(message)
    assert f'href="{BILLING_URL}"' in html(message)
    live = compose(SAMPLES["payment_succeeded-usd"])
    assert "Test mode" not in str(live["Subject"]) + text(live) + html(live)


def test_a_hostile_name_is_escaped_and_adds_no_header_or_recipient() -> None:
    message = compose(SAMPLES["payment_succeeded-hostile-name"])
    raw = message.as_bytes()
    assert "<script>" not in html(message)
    assert "&lt;script&gt;" in html(message)
    assert [a.addr_spec for a in message["To"].addresses] == ["ada@example.com"]
    assert message.get_all("Bcc") is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw.splitlines())
    assert "\u202e" not in text(message) + html(message)
    assert "\r" not in text(message).replace("\r\n", "\n")


def test_markup_in_a_short_name_or_the_product_is_escaped_whole() -> None:
    name = "<img src=x onerror=alert(1)>\"&'"
    message = compose(
        notification(
            "trial_will_end",
            name=name,
            product="<b>Pro</b>",
            subscription=SAMPLES["trial_will_end"]["subscription"],
        )
    )
    body = html(message)
    assert "<img" not in body
    assert "<b>Pro" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;&amp;&#39;" in body
    assert "&lt;b&gt;Pro&lt;/b&gt;" in body
    assert f"Hi {name}," in text(message)


def test_a_link_that_is_not_http_is_never_linked() -> None:
    document = SAMPLES["payment_action_required"]
    hostile = {"hosted_invoice_url": "javascript:alert(1)", "invoice_pdf": "data:text/html,x"}
    message = compose(document | {"invoice": document["invoice"] | hostile})
    body = html(message)
    assert "javascript:" not in body
    assert "data:text" not in body
    assert f'<a href="{BILLING_URL}"' in body  # the confirmation falls back to the app


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/i/acct_1/test_x",  # anywhere else
        "http://invoice.stripe.com/i/acct_1/test_x",  # Stripe's host, but not over https
        "https://invoice.stripe.com@evil.example/i/x",  # a user-info prefix: the host is evil
        "https://invoice.stripe.com.evil.example/i/x",
        "https://pay.stripe.com:8443/invoice/x/pdf",  # another port
        "http://127.0.0.1:8080/_standin/invoices/in_1",  # loopback, in a deployed function
    ],
)
def test_a_deployed_mail_links_only_stripes_invoice_pages_and_the_app(url: str) -> None:
    # A publisher that got onto the topic chooses these URLs; the mail must not carry them.
    document = SAMPLES["payment_failed-retrying"]
    swapped = {"hosted_invoice_url": url, "invoice_pdf": url}
    message = compose(document | {"invoice": document["invoice"] | swapped}, k_service="send-email")
    for part in (html(message), text(message)):
        assert url not in part
        assert "evil.example" not in part
    assert f'href="{BILLING_URL}"' in html(message)  # the way to pay stays the app's own page


@pytest.mark.parametrize(
    "url",
    [
        INVOICE_URL,
        PDF_URL,
        "https://app.example.com/invoices/in_1",  # the configured app's own origin
    ],
)
def test_stripes_invoice_pages_and_the_apps_urls_are_linked(url: str) -> None:
    document = SAMPLES["payment_failed-retrying"]
    swapped = {"hosted_invoice_url": url}
    message = compose(document | {"invoice": document["invoice"] | swapped}, k_service="send-email")
    assert f'href="{url}"' in html(message)


def test_a_local_run_links_the_stand_ins_loopback_pages() -> None:
    url = "http://127.0.0.1:8080/_standin/invoices/in_1"
    document = SAMPLES["payment_failed-retrying"]
    message = compose(document | {"invoice": document["invoice"] | {"hosted_invoice_url": url}})
    assert f'href="{url}"' in html(message)


def test_the_message_id_is_the_same_for_one_notification_and_differs_between_two() -> None:
    first = compose(SAMPLES["payment_succeeded-usd"])
    again = compose(SAMPLES["payment_succeeded-usd"])
    other = compose(SAMPLES["payment_succeeded-jpy"])
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert message_id("evt_1:payment_failed", "example.com") != message_id(
        "evt_1:payment_succeeded", "example.com"
    )


def test_dates_outside_any_calendar_are_left_out_not_a_crash() -> None:
    document = SAMPLES["subscription_canceled-ended"]
    absurd = document["subscription"] | {"ended_at": 10**20, "current_period_end": -(10**20)}
    message = compose(document | {"subscription": absurd})
    assert "has ended." in text(message)


def test_the_locale_writes_amounts_and_dates() -> None:
    message = compose(SAMPLES["payment_failed-retrying"], mail_locale="de_DE")
    assert "49,00\xa0$" in text(message)
    assert "4. März 2026" in text(message)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (None, "no_email"),
        ("not-an-address", "bad_email"),
        ("ada@example.com\r\nBcc: x@evil.example", "bad_email"),
        ("ada lovelace@example.com", "bad_email"),
        ("<ada@example.com>", "bad_email"),
    ],
)
def test_a_customer_without_a_usable_address_is_unsendable(
    address: str | None, reason: str
) -> None:
    with pytest.raises(Unsendable) as raised:
        recipient(_notification(SAMPLES["trial_will_end"] | {"email": address}))
    assert raised.value.reason == reason


def test_an_internationalised_domain_is_sent_in_its_ascii_form() -> None:
    note = _notification(SAMPLES["trial_will_end"] | {"email": "ada@bücher.example"})
    assert recipient(note) == "ada@xn--bcher-kva.example"


def test_missing_branding_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="APP_URL"):
        Brand.from_settings(mail_settings(app_url=None))
