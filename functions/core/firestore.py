"""Firestore conventions every function shares: document ids from uids, bounded retries,
single-document reads."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from google.api_core import retry

if TYPE_CHECKING:
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_document import DocumentSnapshot

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


def get_document(
    ref: firestore.DocumentReference, *, timeout: float, retry: retry.Retry
) -> DocumentSnapshot[firestore.DocumentReference]:
    """One document, read with Firestore's GetDocument RPC (one unary call), as a snapshot.

    ``DocumentReference.get()`` sends BatchGetDocuments, a streaming RPC, even for a single
    document: the library replaced GetDocument with it to share code with ``get_all``
    (googleapis/python-firestore#316). Its stream costs more CPU on this side than a unary
    call: a found document read this way cost 0.65x and 0.82x in two paired runs, a missing one
    about the same (GetDocument answers NOT_FOUND); ``make bench`` measures both side by side
    (docs/performance.md, benchmarks/single_reads.py). The snapshot is built as the library
    builds its own (the fields decoded by its ``_helpers``; no ``read_time``, which
    GetDocument does not return and nothing here reads); tests/integration/test_single_reads.py
    compares the two for a found and a missing document, so a library upgrade that changes
    either fails there.

    Not for a read inside a transaction (use the transaction's own get)."""
    from google.api_core.exceptions import NotFound
    from google.cloud.firestore_v1 import _helpers
    from google.cloud.firestore_v1.base_document import DocumentSnapshot

    client = ref._client
    try:
        found = client._firestore_api.get_document(
            request={"name": ref._document_path},
            metadata=client._rpc_metadata,
            retry=retry,
            timeout=timeout,
        )
    except NotFound:
        return DocumentSnapshot(
            ref, None, exists=False, read_time=None, create_time=None, update_time=None
        )
    return DocumentSnapshot(
        ref,
        _helpers.decode_dict(found.fields, client),
        exists=True,
        read_time=None,
        create_time=found.create_time,
        update_time=found.update_time,
    )
