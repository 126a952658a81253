"""Talking to Stripe: the shared client and raw JSON reads."""
