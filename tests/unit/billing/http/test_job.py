"""The job policy: only the scheduler's token starts a run, and a run's mode is always explicit,
never a default of a bare POST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from billing.config import BillingSettings
from billing.context import Context
from billing.http.job import JobEndpoint
from billing.operations.reconcile import ReconcileRequest, ReconcileSummary
from billing.runtime import Runtime
from devstack.tokens import mint_scheduler_token, mint_token, new_scheduler_key
from tests.support.helpers import client_for

SCHEDULER = "billing-reconcile-invoker@demo-billing.iam.gserviceaccount.com"

runs: list[ReconcileRequest] = []


def fake_reconcile(ctx: Context, body: ReconcileRequest) -> ReconcileSummary:
    runs.append(body)
    return ReconcileSummary(dry_run=body.dry_run, checked=0, changed=0, failed=0, changes=[])


@pytest.fixture(scope="module")
def scheduler_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    path: Path = tmp_path_factory.mktemp("scheduler") / "key.pem"
    public = new_scheduler_key(path)
    return path.read_bytes(), public


@pytest.fixture
def endpoint(settings: BillingSettings, scheduler_key: tuple[bytes, str]) -> Any:
    runs.clear()
    job_settings = settings.model_copy(
        update={"job_invoker_email": SCHEDULER, "job_token_public_key": scheduler_key[1]}
    )
    return client_for(
        JobEndpoint("reconcile", fake_reconcile, ReconcileRequest), Runtime(job_settings)
    )


@pytest.fixture
def post(endpoint: Any, scheduler_key: tuple[bytes, str]) -> Any:
    """POSTs as the scheduler (the test client's host is localhost)."""
    token = mint_scheduler_token("http://localhost", SCHEDULER, scheduler_key[0])

    def as_scheduler(*args: Any, **kwargs: Any) -> Any:
        return endpoint.post(*args, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    return as_scheduler


@pytest.mark.parametrize(
    "who",
    [
        None,  # anyone on the machine, with nothing
        "user",  # a signed-in user's (Auth emulator) token
        "user-signed",  # another identity's token signed by the scheduler's own key
        "forged",  # the scheduler's claims, signed by another key
    ],
)
def test_nobody_but_the_scheduler_starts_a_run(
    endpoint: Any, scheduler_key: tuple[bytes, str], tmp_path: Path, who: str | None
) -> None:
    new_scheduler_key(tmp_path / "forger.pem")
    forger = (tmp_path / "forger.pem").read_bytes()
    tokens = {
        None: None,
        "user": mint_token("alice", "alice@example.com"),
        "user-signed": mint_scheduler_token(
            "http://localhost", "alice@example.com", scheduler_key[0]
        ),
        "forged": mint_scheduler_token("http://localhost", SCHEDULER, forger),
    }
    token = tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # A full, writing run: refused before the body is even read.
    response = endpoint.post("/", json={"dry_run": False}, headers=headers)
    assert response.status_code == (403 if who == "user-signed" else 401), response.get_data()
    assert runs == []


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
