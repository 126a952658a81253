"""Imported by main.py only: validates the configuration when the instance starts.

Kept apart from :mod:`billing.endpoints` so tests can import the endpoints without an
environment, while a deployed instance with a bad setting never serves a request.
"""

from billing import endpoints

endpoints.boot()

__all__ = ["endpoints"]
