"""Firebase Auth user management over the Identity Toolkit REST API: read and set custom claims.

Two calls, made only by the webhook's entitlement sync: ``accounts:lookup`` and
``accounts:update`` with ``customAttributes``. REST through google-auth's authorized session
(the function's service account, scope cloud-platform) instead of firebase-admin, so the
browser functions keep verifying tokens without loading it and this path loads nothing
heavier than google-auth, which Firestore already brings.

With ``FIREBASE_AUTH_EMULATOR_HOST`` set (local runs) the same calls go to the Auth emulator,
which takes ``Authorization: Bearer owner`` as an admin.

Failures: a transport error, a timeout, a 429 or a 5xx raise ``UpstreamUnavailable`` (the
webhook answers 503 and Stripe delivers again); a user that does not exist is not an error
(None / False: there is no token to put a claim in); any other refusal raises
``ClaimsRefused`` with Google's message, which the webhook also answers 5xx so that the
event is not lost while someone fixes the cause (a missing IAM role, say).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from billing.errors import CLAIMS_REFUSED, BillingError, UpstreamUnavailable

log = logging.getLogger(__name__)

PRODUCTION = "https://identitytoolkit.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class ClaimsRefused(BillingError):
    """Identity Toolkit refused a call for a reason retrying alone will not fix."""

    error = CLAIMS_REFUSED


class AuthUsers(Protocol):
    """What billing does with Firebase Auth users: read and replace their custom claims."""

    def custom_claims(self, uid: str) -> dict[str, Any] | None:
        """The user's custom claims; None when there is no such user."""
        ...

    def set_custom_claims(self, uid: str, claims: Mapping[str, Any]) -> bool:
        """Replaces the user's custom claims; False when there is no such user."""
        ...


class IdentityToolkit:
    def __init__(
        self,
        project_id: str,
        *,
        emulator_host: str | None,
        timeout: float,
        session: Any = None,
    ) -> None:
        import requests

        self._timeout = timeout
        if emulator_host:
            root = f"http://{emulator_host}/identitytoolkit.googleapis.com"
            self._session = session or requests.Session()
            self._session.headers["Authorization"] = "Bearer owner"
        else:
            root = PRODUCTION
            if session is None:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                credentials, _ = google.auth.default(scopes=list(SCOPES))
                session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
            self._session = session
        self._base = f"{root}/v1/projects/{project_id}"

    def _post(self, method: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        import requests

        try:
            response = self._session.post(
                f"{self._base}/{method}", json=dict(body), timeout=self._timeout
            )
        except requests.RequestException as exc:
            log.warning("Identity Toolkit %s failed: %s", method, type(exc).__name__)
            raise UpstreamUnavailable("Firebase Auth is unavailable.") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("Identity Toolkit %s answered %d", method, response.status_code)
            raise UpstreamUnavailable("Firebase Auth is unavailable.")
        return response.status_code, data if isinstance(data, dict) else {}

    @staticmethod
    def _message(data: Mapping[str, Any]) -> str:
        error = data.get("error")
        return str(error.get("message", "")) if isinstance(error, Mapping) else ""

    def custom_claims(self, uid: str) -> dict[str, Any] | None:
        status, data = self._post("accounts:lookup", {"localId": [uid]})
        if status != 200:
            raise ClaimsRefused(f"accounts:lookup refused: {self._message(data) or status}")
        users = data.get("users") or []
        if not users:
            return None
        try:
            claims = json.loads(users[0].get("customAttributes") or "{}")
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise ClaimsRefused("accounts:lookup answered custom claims that are not an object")
        return claims

    def set_custom_claims(self, uid: str, claims: Mapping[str, Any]) -> bool:
        body = {"localId": uid, "customAttributes": json.dumps(dict(claims), separators=(",", ":"))}
        status, data = self._post("accounts:update", body)
        if status == 200:
            return True
        message = self._message(data)
        if message.startswith("USER_NOT_FOUND"):
            return False
        raise ClaimsRefused(f"accounts:update refused: {message or status}")
