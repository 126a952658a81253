"""The entitlement in the user's ID token: a ``billing`` custom claim on the Firebase user.

Firestore rules and the app's own backends can then gate on ``request.auth.token.billing``
without reading ``entitlements/{uid}``. The claim is derived from that document only, and
written after it, by the webhook (Stripe's events are what change access):

- **Merged**: the user's other custom claims (the app's own: roles, tenant) are kept; only
  the ``billing`` key is replaced. Identity Toolkit has no compare-and-set on claims, so an
  app that rewrites claims at the same moment may race with this write; the app should
  merge, as this does.
- **Small**: Firebase refuses custom claims over 1,000 bytes (serialized JSON). When the
  features do not fit, the claim drops them and says ``"features": null`` (read the
  document); when even that does not fit beside the app's claims, the ``billing`` claim is
  removed (a token never says more than the user has: an older plan left in place would
  keep granting it) and an error is logged (retrying could not help).
- **Ordered by the document's ticket**: the claim carries the document's ``version``, and a
  claim is never replaced by one from an older document (a late sync finding a newer claim
  writes nothing). The claim is written from the entitlement document as it is *now*, and
  afterwards the document's version is read again; if a newer sync wrote in between, the
  claim is written again from the newer document. The last claim written is therefore
  always the latest document's, whatever order syncs finish in. One window remains: a
  cleared claim (access ended) carries no version, so a late sync of an older, active
  document can write it back until its own look after the write finds the newer document
  and clears it again (milliseconds, or until Stripe redelivers if the instance dies there).
- **Cleared** when access ends: the ``billing`` key is removed (no plan, no features).

A client sees a claim change only in a token minted after it: Firebase ID tokens last an
hour, so the app refreshes its token (``getIdToken(true)``) when the entitlement document it
listens to changes (docs/frontend.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from billing.context import Context
from billing.errors import UpstreamUnavailable
from billing.identity_toolkit import AuthUsers
from core import call_counts
from core.firestore import doc_id, firestore_retry, get_document

log = logging.getLogger(__name__)

CLAIM = "billing"
# Firebase's limit on a user's custom claims, as serialized JSON.
MAX_CLAIMS_BYTES = 1000
_WRITE_ATTEMPTS = 5
ENTITLEMENTS = "entitlements"  # as billing.entitlements.sync writes it


def claim_of(
    entitlement: Mapping[str, Any] | None, *, with_features: bool = True
) -> dict[str, Any] | None:
    """The ``billing`` claim for an entitlement document; None when it grants no access."""
    if not entitlement or not entitlement.get("active"):
        return None
    claim = {
        "plan": entitlement.get("product_id"),
        "price": entitlement.get("price_id"),
        "active": True,
        "features": list(entitlement.get("features") or []) if with_features else None,
        "valid_until": entitlement.get("valid_until"),
    }
    if entitlement.get("version") is not None:
        claim["version"] = entitlement.get("version")
    return claim


def _version_of(claims: Mapping[str, Any] | None) -> int:
    """The document version a user's ``billing`` claim was written from (0: none)."""
    claim = (claims or {}).get(CLAIM)
    return int(claim.get("version") or 0) if isinstance(claim, Mapping) else 0


def _content(claims: Mapping[str, Any] | None) -> dict[str, Any]:
    """The claims as a token reader sees them: the version alone changing is no change (most
    events leave the plan as it was; rewriting the claim for each would cost an Auth write)."""
    out = dict(claims or {})
    claim = out.get(CLAIM)
    if isinstance(claim, Mapping):
        out[CLAIM] = {k: v for k, v in claim.items() if k != "version"}
    return out


def _size(claims: Mapping[str, Any]) -> int:
    return len(json.dumps(claims, separators=(",", ":")).encode())


def merged(
    existing: Mapping[str, Any] | None, entitlement: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The user's claims with ``billing`` replaced; None when they cannot fit the limit."""
    others = {k: v for k, v in (existing or {}).items() if k != CLAIM}
    for with_features in (True, False):
        claim = claim_of(entitlement, with_features=with_features)
        claims = others if claim is None else others | {CLAIM: claim}
        if _size(claims) <= MAX_CLAIMS_BYTES:
            return claims
    return None


type DocReader = Callable[[], tuple[Mapping[str, Any] | None, int]]


def publish(
    users: AuthUsers,
    uid: str,
    read_document: DocReader,
    known: tuple[Mapping[str, Any], int] | None = None,
) -> str:
    """Sets the user's ``billing`` claim from the entitlement document, repeating while a
    newer sync writes the document meanwhile. ``read_document`` answers the document and its
    version (its sync ticket; 0 when there is none); ``known`` is the document and version a
    sync has just written, which spares the first read (the read after the claim is written
    still finds any newer one). Returns what happened, for the logs: ``written``,
    ``unchanged``, ``no_user`` or ``too_large``.

    A claim whose content is unchanged keeps the version it was written from (an Auth write
    per event would cost more than it tells), so the claim's version can lag the document's:
    Pro written from version 5, the document now Pro at version 7. A late sync of version 6
    (Basic) then sees an older claim. It must not write Basic, even for the moment until the
    look after the write puts Pro back: a token minted in between would carry the older plan.
    So a claim is only ever written from a document read just before (``known`` spares the
    read when nothing is to be written, which is most events)."""
    outcome = "unchanged"
    source: tuple[Mapping[str, Any] | None, int] | None = known
    read_now = False
    for _ in range(_WRITE_ATTEMPTS):
        if source is None:
            source, read_now = read_document(), True
        document, version = source
        source = None
        existing = users.custom_claims(uid)
        if existing is None:
            return "no_user"
        if _version_of(existing) > version:
            # A newer document's claim is already there: this sync is late. Never go back;
            # the look below finds the newer document and writes from it if it must.
            if read_document()[1] == version:
                return outcome
            continue
        if document is not None and version and document.get("version") is None:
            document = {**document, "version": version}
        claims = merged(existing, document)
        if claims is None:
            log.error(
                "the billing claim does not fit beside the user's other claims (1,000 bytes):"
                " the billing claim is removed; gate on entitlements/{uid}",
                extra={"uid": uid},
            )
            if CLAIM in existing and not users.set_custom_claims(
                uid, {k: v for k, v in existing.items() if k != CLAIM}
            ):
                return "no_user"
            return "too_large"
        if _content(claims) != _content(existing):
            if not read_now:
                latest = read_document()
                if latest[1] != version:  # the sync's copy is no longer the newest
                    source, read_now = latest, True
                    continue
            if not users.set_custom_claims(uid, claims):
                return "no_user"
            outcome = "written"
        if read_document()[1] == version:
            return outcome
    raise UpstreamUnavailable("The entitlement kept changing while its claim was written.")


def publish_for(ctx: Context, uid: str, known: tuple[Mapping[str, Any], int] | None = None) -> str:
    """:func:`publish` for ``uid`` from ``entitlements/{uid}`` in Firestore (``known``: what
    the caller's sync has just written there, and its version); ``disabled`` when the
    ENTITLEMENT_CLAIMS setting is off."""
    rt = ctx.runtime
    if not rt.settings.entitlement_claims:
        return "disabled"
    timeout = rt.settings.firestore_timeout_seconds
    ref = rt.firestore.collection(ENTITLEMENTS).document(doc_id(uid))

    def read_document() -> tuple[Mapping[str, Any] | None, int]:
        call_counts.count(call_counts.FIRESTORE)
        data = get_document(ref, timeout=timeout, retry=firestore_retry(timeout)).to_dict()
        return data, int((data or {}).get("version") or 0)

    outcome = publish(rt.auth_users, uid, read_document, known)
    if outcome != "unchanged":  # most events leave the claim as it was: nothing to say
        log.info("billing claim %s", outcome, extra={"uid": uid})
    return outcome
