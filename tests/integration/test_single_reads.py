"""``core.firestore.get_document``: one document by Firestore's GetDocument RPC (a unary call)
instead of the BatchGetDocuments stream ``DocumentReference.get()`` sends. It builds the
snapshot itself from the client's private layers, so it is compared here with the library's
own read, in-process against the emulator: a library upgrade that changes either fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.cloud import firestore

from core.firestore import firestore_retry, get_document
from devstack.stack import StackInfo
from tests.support.firestore_rpcs import counting_client

TIMEOUT = 30.0


def test_a_found_document_reads_as_the_librarys_get_in_one_get_document_call(
    stack: StackInfo,
) -> None:
    client, calls = counting_client(stack.project_id, stack.firestore_emulator_host)
    ref = client.collection("single_reads").document(uuid.uuid4().hex)
    ref.set(
        {
            "text": "é ok",
            "number": 3,
            "ratio": 0.5,
            "flag": True,
            "none": None,
            "list": ["a", 1, {"nested": [True]}],
            "map": {"a": {"b": 2}, "when": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)},
            "bytes": b"\x00\x01",
            "at": firestore.SERVER_TIMESTAMP,
            "ref": client.document("other/doc"),
        }
    )
    ref.update({"number": 4})  # updated after its creation: two different instants
    library = ref.get()
    assert library.update_time != library.create_time
    calls.clear()
    ours = get_document(ref, timeout=TIMEOUT, retry=firestore_retry(TIMEOUT))
    assert calls == ["get_document"]
    assert ours.exists is True
    assert ours.reference is ref
    assert ours.id == ref.id
    assert ours.to_dict() == library.to_dict()
    # The compare-and-set token every store keeps: the same instant, to the nanosecond.
    assert ours.update_time == library.update_time
    assert ours.update_time.nanosecond == library.update_time.nanosecond
    assert ours.create_time == library.create_time
    assert ours.get("map.a.b") == 2
    # A write conditioned on it passes, as it does on the library's.
    ref.update({"number": 5}, option=client.write_option(last_update_time=ours.update_time))


def test_a_missing_document_reads_as_missing_not_as_an_error(stack: StackInfo) -> None:
    client, calls = counting_client(stack.project_id, stack.firestore_emulator_host)
    ref = client.collection("single_reads").document(uuid.uuid4().hex)
    library = ref.get()
    calls.clear()
    ours = get_document(ref, timeout=TIMEOUT, retry=firestore_retry(TIMEOUT))
    assert calls == ["get_document"]
    assert (ours.exists, ours.to_dict()) == (library.exists, library.to_dict()) == (False, None)
    assert ours.update_time is None
    assert ours.reference is ref
