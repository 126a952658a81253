"""Stripe amounts (integers in the currency's minor unit) as a reader expects to see them.

What Stripe's integer means is Stripe's rule, not the currency's: its API counts zero decimals
for the currencies below, three for the dinars and rials below, and two for every other,
including ISK, which CLDR (and so Babel) gives no decimals ("an ISK amount of 100 represents
1 krona"), and the lek, afghani and others CLDR rounds to whole units. Babel's data agrees with
both lists below (a test checks it); it would be wrong for those others. How to write the
amount (symbol, its place, grouping, decimals shown) is the locale's rule, and Babel's.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from babel.numbers import format_currency

# https://docs.stripe.com/currencies#zero-decimal and #three-decimal
STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def minor_unit_digits(currency: str) -> int:
    """How many decimals Stripe's integer amounts in ``currency`` carry."""
    code = currency.upper()
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """1999 usd -> 19.99; 1999 jpy -> 1999; 1999 kwd -> 1.999 (exact, no float)."""
    return Decimal(f"{amount}E-{minor_unit_digits(currency)}")  # exact: no context rounding


def format_amount(amount: int, currency: str, locale: str) -> str:
    """``amount`` minor units as the locale writes money: "$19.99", "¥1,999", "KWD1.999".

    Decimals the locale would not show are dropped only when they are zero (ISK 12300 is
    "ISK123"), never rounded away.
    """
    with localcontext() as context:
        # Decimal's default 28 digits would fail on an absurd amount the contract allows.
        context.prec = max(context.prec, len(str(amount)) + 8)
        return format_currency(
            to_major(amount, currency),
            currency.upper(),
            locale=locale,
            currency_digits=True,
            decimal_quantization=False,
        )
