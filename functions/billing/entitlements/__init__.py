"""Stripe event -> sync -> entitlement document -> notification."""
