"""A Firestore client that records every RPC it sends: round trips counted where they leave the
process, not where the product says it makes them (``core.call_counts`` is the product's own
count, which these tests check against it)."""

from __future__ import annotations

import os
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

# The Firestore API's RPCs (google.cloud.firestore_v1.services.firestore.client.FirestoreClient).
RPCS = frozenset(
    {
        "batch_get_documents",
        "batch_write",
        "begin_transaction",
        "commit",
        "create_document",
        "delete_document",
        "get_document",
        "list_collection_ids",
        "list_documents",
        "rollback",
        "run_aggregation_query",
        "run_query",
        "update_document",
    }
)


class _Counting:
    def __init__(self, api: Any, calls: list[str]) -> None:
        self._api = api
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._api, name)
        if name not in RPCS:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            return attribute(*args, **kwargs)

        return counted


def counting_client(project: str, emulator_host: str) -> tuple[firestore.Client, list[str]]:
    """A client of the emulator at ``emulator_host`` and the list its RPCs are appended to."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    client = firestore.Client(project=project, credentials=AnonymousCredentials())
    calls: list[str] = []
    client._firestore_api_internal = _Counting(client._firestore_api, calls)
    return client, calls
