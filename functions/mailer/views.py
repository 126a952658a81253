"""What a mail says, prepared from a notification: names cleaned, amounts and dates written out.

Everything here is plain text; the templates escape it for HTML (Jinja autoescape).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from babel.dates import format_date, format_interval

from mailer.contract import Notification
from mailer.money import format_amount

_NAME_LIMIT = 70
# Joiners shape emoji and Persian script; every other format or control character (bidi
# overrides that reverse text, zero-width spaces, CR/LF) is dropped from user-typed text.
_KEPT_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
_WEB_LINK = re.compile(r"^https?://[^\s\"'<>\\`]+$")
# Where Stripe serves an invoice's hosted page (hosted_invoice_url) and its PDF (invoice_pdf).
STRIPE_INVOICE_HOSTS = frozenset({"invoice.stripe.com", "pay.stripe.com"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

log = logging.getLogger("mailer")


def one_line(text: str | None, limit: int = _NAME_LIMIT) -> str | None:
    """User- or merchant-typed text fit for a greeting or a header: one line, no control or
    direction-changing characters, at most ``limit`` characters; None when nothing is left."""
    if text is None:
        return None
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif char in _KEPT_FORMAT_CHARACTERS or unicodedata.category(char) not in _DROPPED:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned or None


def web_link(url: str | None) -> str | None:
    """``url`` if it is an http(s) link; anything else (javascript:, data:) is not linked."""
    return url if url is not None and _WEB_LINK.match(url) else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"


@dataclass(frozen=True)
class LinkPolicy:
    """Which links a mail may carry: the message on the topic says where an invoice is, and
    whoever could publish to the topic would choose where customers click. Only Stripe's hosted
    invoice pages over https, the app's own configured URLs, and (on a local run only) the
    loopback addresses where the Stripe stand-in serves its pages are linked."""

    app_origins: frozenset[str]
    loopback: bool = False

    @classmethod
    def of(cls, app_urls: Iterable[str], *, local: bool) -> LinkPolicy:
        return cls(frozenset(_origin(url) for url in app_urls), loopback=local)

    def allows(self, url: str) -> bool:
        if not _WEB_LINK.match(url):
            return False
        try:
            parts = urlsplit(url)
            port = parts.port  # ValueError when it is not a port
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        if parts.username is not None or parts.password is not None:
            return False  # https://invoice.stripe.com@elsewhere.example is elsewhere
        if parts.scheme == "https" and host in STRIPE_INVOICE_HOSTS and port in (None, 443):
            return True
        if _origin(url) in self.app_origins:
            return True
        return self.loopback and host in _LOOPBACK

    def link(self, url: str | None, what: str) -> str | None:
        """``url`` when it may be linked; otherwise None, with a WARNING naming only the host."""
        if url is None:
            return None
        if self.allows(url):
            return url
        host = urlsplit(url).hostname if _WEB_LINK.match(url) else None
        log.warning("%s not linked: it points outside Stripe and the app (host %r)", what, host)
        return None


def day(timestamp: int | None) -> date | None:
    """The UTC day of a Unix time; None when absent or outside what a calendar can show."""
    if timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class MailView:
    """The facts a template may show, already written for the reader's locale."""

    type: str
    test_mode: bool
    name: str | None
    product: str
    amount_paid: str | None = None
    amount_due: str | None = None
    invoice_number: str | None = None
    period: str | None = None
    invoice_url: str | None = None
    invoice_pdf: str | None = None
    next_attempt: str | None = None
    ended: bool = False
    will_cancel: bool = False
    ended_on: str | None = None
    ends_on: str | None = None
    trial_ends_on: str | None = None


def build(
    notification: Notification,
    *,
    default_product: str,
    locale: str,
    links: LinkPolicy | None = None,
) -> MailView:
    """The mail's facts. ``links`` decides which of the message's URLs are linked; without
    one, none is (a view built without knowing the app's URLs links nowhere)."""
    policy = links or LinkPolicy(frozenset())

    def long_date(timestamp: int | None) -> str | None:
        when = day(timestamp)
        return format_date(when, format="long", locale=locale) if when else None

    view = MailView(
        type=notification.type,
        test_mode=not notification.livemode,
        name=one_line(notification.customer_name),
        product=one_line(notification.product_name, 100) or default_product,
    )
    invoice = notification.invoice
    if invoice is not None:
        start, end = day(invoice.period_start), day(invoice.period_end)
        view = replace(
            view,
            amount_paid=format_amount(invoice.amount_paid, invoice.currency, locale),
            amount_due=format_amount(invoice.amount_due, invoice.currency, locale),
            invoice_number=one_line(invoice.number),
            period=format_interval(start, end, "yMMMd", locale=locale)
            if start and end and start <= end
            else None,
            invoice_url=policy.link(invoice.hosted_invoice_url, "hosted_invoice_url"),
            invoice_pdf=policy.link(invoice.invoice_pdf, "invoice_pdf"),
            next_attempt=long_date(invoice.next_payment_attempt),
        )
    subscription = notification.subscription
    if subscription is not None:
        view = replace(
            view,
            ended=subscription.ended_at is not None,
            will_cancel=subscription.cancel_at_period_end,
            ended_on=long_date(subscription.ended_at),
            ends_on=long_date(subscription.current_period_end),
            trial_ends_on=long_date(subscription.trial_end),
        )
    return view
