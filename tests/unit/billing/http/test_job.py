"""The job policy: a run's mode is always explicit, never a default of a bare POST."""

from __future__ import annotations

from typing import Any

import pytest

from billing.config import BillingSettings
from billing.context import Context
from billing.http.job import JobEndpoint
from billing.operations.reconcile import ReconcileRequest, ReconcileSummary
from billing.runtime import Runtime
from tests.support.helpers import client_for

runs: list[ReconcileRequest] = []


def fake_reconcile(ctx: Context, body: ReconcileRequest) -> ReconcileSummary:
    runs.append(body)
    return ReconcileSummary(dry_run=body.dry_run, checked=0, changed=0, failed=0, changes=[])


@pytest.fixture
def post(settings: BillingSettings) -> Any:
    runs.clear()
    client = client_for(
        JobEndpoint("reconcile", fake_reconcile, ReconcileRequest), Runtime(settings)
    )
    return client.post


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"", "text/plain", 400),  # a bare POST once ran a full, writing reconcile
        (b"", None, 400),
        (b"go", "text/plain", 415),
        (b"{}", "application/json", 400),  # the mode must be chosen
        (b'{"dry_run": "no"}', "application/json", 400),
    ],
)
def test_no_run_without_an_explicit_mode(
    post: Any, data: bytes, content_type: str | None, status: int
) -> None:
    response = post("/", data=data, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    assert runs == []
    if data == b"{}":
        assert response.get_json()["error"]["field"] == "dry_run"


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_mode_sent_is_the_mode_run(post: Any, dry_run: bool) -> None:
    response = post("/", json={"dry_run": dry_run})
    assert response.status_code == 200
    assert response.get_json()["dry_run"] is dry_run
    assert [run.dry_run for run in runs] == [dry_run]
