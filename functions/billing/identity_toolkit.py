"""Firebase Auth user management over the Identity Toolkit REST API: read and set custom claims.

Two calls, made only by the webhook's entitlement sync: ``accounts:lookup`` and
``accounts:update`` with ``customAttributes``. REST through google-auth's urllib3 transport,
``AuthorizedHttp`` (the function's service account, scope cloud-platform), instead of
firebase-admin, so the browser functions keep verifying tokens without loading it and this
path loads nothing heavier than google-auth, which Firestore already brings. urllib3 directly,
not a requests session: requests prepared every call again (environment and proxy lookups,
hooks, cookie jar), which was about a third of the call's client CPU, as it was for Stripe
(``billing.stripe_api.client``). One pool per host per instance (``core.http_pools``): the
environment's proxy for each host (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) is read
once, on its first call, as requests read it; the credentials' token refresh (the metadata
server) has its own, never the API's proxy. The timeout (connect and read) is
``AUTH_TIMEOUT_SECONDS``; urllib3 retries nothing and follows no redirect.

With ``FIREBASE_AUTH_EMULATOR_HOST`` set (local runs) the same calls go to the Auth emulator
over a plain urllib3 pool, with ``Authorization: Bearer owner``, which the emulator takes as
an admin.

Failures: a transport error, a timeout, a 429 or a 5xx raise ``UpstreamUnavailable`` (the
webhook answers 503 and Stripe delivers again); a user that does not exist is not an error
(None / False: there is no token to put a claim in); any other refusal raises
``ClaimsRefused`` with Google's message, which the webhook also answers 5xx so that the
event is not lost while someone fixes the cause (a missing IAM role, say). The credentials'
token refresh failing is a transport error when the metadata server (or token endpoint) could
not be reached or says to retry, else ``ClaimsRefused``. Errors are named by their type
alone in logs and messages: no URL, header or token reaches either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from billing.errors import CLAIMS_REFUSED, BillingError, UpstreamUnavailable
from core.http_pools import PoolsByHost, pool_for

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


# Connections kept open to Identity Toolkit per instance, as requests' adapter kept (its
# default pool size): the webhook's request threads call it one at a time per event.
POOL_SIZE = 10


class IdentityToolkit:
    """The two calls over urllib3: google-auth's ``AuthorizedHttp`` (production) or a plain
    pool (the emulator), one per instance, shared by its threads."""

    def __init__(
        self,
        project_id: str,
        *,
        emulator_host: str | None,
        timeout: float,
        http: Any = None,
        credentials: Any = None,
    ) -> None:
        """``http`` (tests): what to send through instead of the pool built here, anything
        with urllib3's ``request``; ``credentials`` (tests): instead of the environment's."""
        import urllib3

        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._headers = {"Content-Type": "application/json"}
        if emulator_host:
            root = f"http://{emulator_host}/identitytoolkit.googleapis.com"
            self._http = http or pool_for(root, maxsize=POOL_SIZE)
            self._headers["Authorization"] = "Bearer owner"
        else:
            root = PRODUCTION
            import certifi
            from google.auth.transport.urllib3 import AuthorizedHttp

            if credentials is None:
                import google.auth

                credentials, _ = google.auth.default(scopes=list(SCOPES))
            # The credentials' refresh (the metadata server's token) goes through ``http``
            # too, so one pool per host: each with the proxy the environment names for that
            # host, as AuthorizedSession's requests chose it (never the API's proxy for the
            # metadata server). AuthorizedHttp refreshes and sends again on a 401, as
            # AuthorizedSession did.
            if http is None:
                http = PoolsByHost(maxsize=POOL_SIZE, ca_certs=certifi.where())
                http.pool(root)  # the API's proxy read now: a malformed one fails the build
            self._http = AuthorizedHttp(credentials, http=http)  # type: ignore[no-untyped-call]
        self._base = f"{root}/v1/projects/{project_id}"

    def _post(self, method: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        import google.auth.exceptions
        import urllib3

        try:
            answer = self._http.request(
                "POST",
                f"{self._base}/{method}",
                body=json.dumps(dict(body), separators=(",", ":")).encode(),
                headers=self._headers,
                timeout=self._timeout,
                retries=False,  # none of urllib3's own, and no redirects followed
            )
        except (urllib3.exceptions.HTTPError, google.auth.exceptions.TransportError) as exc:
            # Named by type alone, and not chained: only the error's name reaches a log line
            # or a traceback, never a URL, a header or the credentials' token.
            log.warning("Identity Toolkit %s failed: %s", method, type(exc).__name__)
            raise UpstreamUnavailable("Firebase Auth is unavailable.") from None
        except google.auth.exceptions.RefreshError as exc:
            # The credentials' token could not be had: the metadata server (or the token
            # endpoint) unreachable or failing for now is a transport error; a refusal is not.
            log.warning("Identity Toolkit %s: no token: %s", method, type(exc).__name__)
            if exc.retryable or isinstance(exc.__cause__, google.auth.exceptions.TransportError):
                raise UpstreamUnavailable("Firebase Auth is unavailable.") from None
            raise ClaimsRefused(
                f"{method}: the function's credentials could not be refreshed"
                f" ({type(exc).__name__})"
            ) from None
        try:
            data = json.loads(answer.data)
        except ValueError:
            data = {}
        if answer.status == 429 or answer.status >= 500:
            log.warning("Identity Toolkit %s answered %d", method, answer.status)
            raise UpstreamUnavailable("Firebase Auth is unavailable.")
        return answer.status, data if isinstance(data, dict) else {}

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
