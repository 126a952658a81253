"""The benchmark's Firestore wire proxy counts what a client really sends: one per gRPC call."""

from __future__ import annotations

import os

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from benchmarks.wire import TimingProxy
from devstack.stack import StackInfo

pytestmark = pytest.mark.integration


def test_counts_one_per_firestore_call(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = stack.firestore_emulator_host.rsplit(":", 1)
    with TimingProxy("h2", (host, int(port))) as proxy:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{proxy.port}")
        db = firestore.Client(project=stack.project_id, credentials=AnonymousCredentials())
        doc = db.collection("rpc_counter_test").document(os.urandom(6).hex())
        doc.set({"n": 1})  # Commit
        assert doc.get().to_dict() == {"n": 1}  # BatchGetDocuments
        batch = db.batch()
        batch.update(doc, {"n": 2})
        batch.create(db.collection("rpc_counter_test").document(os.urandom(6).hex()), {"n": 3})
        batch.commit()  # one Commit for both writes
        assert proxy.calls == 3
