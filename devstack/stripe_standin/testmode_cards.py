"""Stripe's test PaymentMethods (``pm_card_*``) and how each behaves.

Behaviour follows Stripe's testing docs: the "declined payments" cards cannot be attached to a
customer (attaching runs a card check that declines), ``pm_card_chargeCustomerFail`` attaches
but every charge declines, ``pm_card_authenticationRequired`` needs 3-D Secure on every payment
and every setup, and ``pm_card_authenticationRequiredOnSetup`` needs it until it has been set up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Auth = Literal["none", "always", "unless_setup"]


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT_FUNDS = Decline(
    "card_declined", "insufficient_funds", "Your card has insufficient funds."
)
AUTHENTICATION_FAILURE = Decline(
    "payment_intent_authentication_failure",
    None,
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again.",
)
SETUP_AUTHENTICATION_FAILURE = Decline(
    "setup_intent_authentication_failure",
    None,
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again.",
)


@dataclass(frozen=True)
class CardProfile:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    attach_decline: Decline | None = None
    charge_decline: Decline | None = None
    auth: Auth = "none"


_VISA = CardProfile("visa", "4242")

TEST_CARDS: dict[str, CardProfile] = {
    "pm_card_visa": _VISA,
    "pm_card_visa_debit": CardProfile("visa", "5556", funding="debit"),
    "pm_card_mastercard": CardProfile("mastercard", "4444"),
    "pm_card_amex": CardProfile("amex", "8431"),
    "pm_card_chargeDeclined": CardProfile(
        "visa", "0002", attach_decline=GENERIC_DECLINE, charge_decline=GENERIC_DECLINE
    ),
    "pm_card_visa_chargeDeclined": CardProfile(
        "visa", "0002", attach_decline=GENERIC_DECLINE, charge_decline=GENERIC_DECLINE
    ),
    "pm_card_chargeDeclinedInsufficientFunds": CardProfile(
        "visa", "9995", attach_decline=INSUFFICIENT_FUNDS, charge_decline=INSUFFICIENT_FUNDS
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": CardProfile(
        "visa", "9995", attach_decline=INSUFFICIENT_FUNDS, charge_decline=INSUFFICIENT_FUNDS
    ),
    "pm_card_chargeCustomerFail": CardProfile("visa", "0341", charge_decline=GENERIC_DECLINE),
    "pm_card_authenticationRequired": CardProfile("visa", "3184", auth="always"),
    "pm_card_authenticationRequiredOnSetup": CardProfile("visa", "3155", auth="unless_setup"),
}

Outcome = Literal["succeeded", "declined", "requires_action"]


def charge_outcome(profile: CardProfile, *, set_up: bool) -> tuple[Outcome, Decline | None]:
    """What a payment attempt with this card does (before any 3-D Secure is completed)."""
    if profile.auth == "always" or (profile.auth == "unless_setup" and not set_up):
        return "requires_action", None
    if profile.charge_decline is not None:
        return "declined", profile.charge_decline
    return "succeeded", None


def setup_outcome(profile: CardProfile) -> tuple[Outcome, Decline | None]:
    """What confirming a SetupIntent with this card does."""
    if profile.attach_decline is not None:
        return "declined", profile.attach_decline
    if profile.auth != "none":
        return "requires_action", None
    return "succeeded", None
