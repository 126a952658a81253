"""Metered usage: the usage contract, the metering function and the read side of quotas.

The app's backends report usage to the usage topic (``schemas/usage.v1.json``) and consume
quotas with the ``billing-usage`` helper (``packages/billing-usage``); the metering function
(:mod:`billing.usage.metering`) records each usage in Stripe as one meter event, exactly once.
"""
