"""Shared by every function (billing and the email function); knows no Stripe and no billing."""
