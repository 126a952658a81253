"""Stripe subscription billing as Google Cloud Functions.

``main.py`` (one level up) holds the entry points; :mod:`billing.endpoints` is the public
surface it wires, and every other module here is an implementation detail of it.
"""
