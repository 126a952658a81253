"""Firestore conventions every function shares: document ids from uids, bounded retries."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from google.api_core import retry

if TYPE_CHECKING:
    from google.cloud import firestore

# What Firestore refuses as a document id. Firebase's own uids never match; custom-token
# uids may.
_UNSAFE_ID = re.compile(r"/|^\.\.?$|^__.*__$|^uid-sha256-")


def client(project: str) -> firestore.Client:
    """A Firestore client for ``project`` (the emulator when FIRESTORE_EMULATOR_HOST is set).

    The library is imported here, when the first client is built, so a function that never
    builds one never pays for it at start.
    """
    from google.cloud import firestore

    return firestore.Client(project=project)


def doc_id(uid: str) -> str:
    """The Firestore document id for a uid: the uid itself where Firestore allows it."""
    if _UNSAFE_ID.search(uid) or len(uid.encode()) > 1500:
        return "uid-sha256-" + hashlib.sha256(uid.encode()).hexdigest()
    return uid


def firestore_retry(timeout: float) -> retry.Retry:
    """Retries transient errors, giving up after ``timeout`` seconds in all.

    A caller waiting on an HTTP request is better told 503 (retry) than left hanging; the
    client's default retries have no overall deadline (a get against an unreachable Firestore
    never returns), so every call passes this bounded policy.
    """
    return retry.Retry(
        predicate=retry.if_transient_error,
        initial=0.1,
        maximum=1.0,
        multiplier=2.0,
        timeout=timeout,
    )
