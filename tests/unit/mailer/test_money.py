"""Amounts in mails: Stripe's minor units divided right for each currency, written by Babel."""

from __future__ import annotations

import pytest
from babel.numbers import get_currency_precision

from mailer.money import STRIPE_THREE_DECIMAL, STRIPE_ZERO_DECIMAL, format_amount, to_major


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (1999, "usd", "en_US", "$19.99"),
        (1000, "usd", "en_US", "$10.00"),
        (5, "usd", "en_US", "$0.05"),
        (123456789, "usd", "en_US", "$1,234,567.89"),
        (1500, "jpy", "en_US", "¥1,500"),  # zero-decimal: not divided by 100
        (1500, "jpy", "ja_JP", "￥1,500"),
        (1000000, "krw", "en_US", "₩1,000,000"),
        (12345, "kwd", "en_US", "KWD12.345"),  # three-decimal: divided by 1000
        (12340, "kwd", "en_US", "KWD12.340"),
        (1999, "eur", "de_DE", "19,99\xa0€"),
        (12300, "isk", "en_US", "ISK123"),  # two decimals in Stripe's API, none shown
        (10**30, "usd", "en_US", "$10,000,000,000,000,000,000,000,000,000.00"),
        (0, "usd", "en_US", "$0.00"),
    ],
)
def test_amounts_are_written_as_the_currency_and_locale_expect(
    amount: int, currency: str, locale: str, expected: str
) -> None:
    assert format_amount(amount, currency, locale) == expected


def test_no_amount_is_ever_rounded_away() -> None:
    assert format_amount(12345, "isk", "en_US").endswith("123.45")
    assert str(to_major(12345, "kwd")) == "12.345"
    assert str(to_major(10**30 + 1, "usd")) == "1" + "0" * 28 + ".01"
    assert format_amount(10**30 + 1, "usd", "en_US").endswith("000.01")


def test_babel_agrees_with_stripe_on_every_zero_and_three_decimal_currency() -> None:
    # Babel's CLDR data is where the locale's writing comes from; for these currencies its
    # digits are Stripe's too, so Stripe's lists and Babel cannot contradict each other.
    for code in STRIPE_ZERO_DECIMAL:
        assert get_currency_precision(code) == 0, code
    for code in STRIPE_THREE_DECIMAL:
        assert get_currency_precision(code) == 3, code


def test_where_cldr_and_stripe_disagree_stripe_defines_the_minor_unit() -> None:
    # Stripe: "ISK will remain a two-decimal currency in the Stripe API, and an ISK amount of
    # 100 will continue to represent 1 krona"; CLDR gives ISK no decimals.
    assert get_currency_precision("ISK") == 0
    assert to_major(100, "isk") == 1
    assert to_major(100, "all") == 1  # Albanian lek, likewise
