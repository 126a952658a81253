"""Who may start a job: the scheduler's OIDC token, checked as production checks it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from billing.config import BillingSettings
from billing.errors import BillingError, ConfigError
from billing.job_auth import verify_scheduler
from devstack.tokens import mint_scheduler_token, mint_token, new_scheduler_key

SCHEDULER = "billing-reconcile-invoker@demo-billing.iam.gserviceaccount.com"
HOST = "127.0.0.1:8123"
URL = f"http://{HOST}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """The stack's scheduler key: (private PEM, public PEM)."""
    path = tmp_path_factory.mktemp("scheduler") / "key.pem"
    public = new_scheduler_key(path)
    assert path.stat().st_mode & 0o777 == 0o600  # readable by its owner only
    return path.read_bytes(), public


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    path = tmp_path_factory.mktemp("other") / "key.pem"
    public = new_scheduler_key(path)
    return path.read_bytes(), public


def _settings(public_key: str | None, **values: Any) -> BillingSettings:
    return BillingSettings(
        google_cloud_project="demo-billing",
        stripe_secret_key="sk_test_unit",  # type: ignore[arg-type]
        job_invoker_email=SCHEDULER,
        job_token_public_key=public_key,
        **values,
    )


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _status(settings: BillingSettings, authorization: str | None) -> tuple[int, str]:
    with pytest.raises(BillingError) as refused:
        verify_scheduler(settings, authorization, HOST)
    return refused.value.status, refused.value.code


def test_the_stacks_scheduler_token_starts_a_job(keys: tuple[bytes, str]) -> None:
    token = mint_scheduler_token(URL, SCHEDULER, keys[0])
    assert verify_scheduler(_settings(keys[1]), _bearer(token), HOST) == SCHEDULER


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "Bearer", "Bearer a b"])
def test_no_token_is_401(keys: tuple[bytes, str], authorization: str | None) -> None:
    status, code = _status(_settings(keys[1]), authorization)
    assert status == 401
    assert code in ("missing_token", "invalid_token")


def test_a_users_firebase_token_is_refused(keys: tuple[bytes, str]) -> None:
    # The Auth emulator's (unsigned) token of a signed-in user, even one whose email is the
    # scheduler's: it is not signed by the scheduler's key, nor issued by Google's accounts.
    for email in ("alice@example.com", SCHEDULER):
        token = mint_token("alice", email)
        assert _status(_settings(keys[1]), _bearer(token)) == (401, "invalid_token")


def test_a_users_token_signed_by_the_key_is_still_not_the_scheduler(
    keys: tuple[bytes, str],
) -> None:
    user = mint_scheduler_token(URL, "alice@example.com", keys[0])
    assert _status(_settings(keys[1]), _bearer(user)) == (403, "forbidden")
    firebase_claims = {"iss": "https://securetoken.google.com/demo-billing"}
    firebase = mint_scheduler_token(URL, SCHEDULER, keys[0], extra_claims=firebase_claims)
    assert _status(_settings(keys[1]), _bearer(firebase)) == (401, "invalid_token")
    unverified = mint_scheduler_token(
        URL, SCHEDULER, keys[0], extra_claims={"email_verified": False}
    )
    assert _status(_settings(keys[1]), _bearer(unverified)) == (403, "forbidden")


def test_a_token_signed_by_another_key_or_unsigned_is_401(
    keys: tuple[bytes, str], other_keys: tuple[bytes, str]
) -> None:
    forged = mint_scheduler_token(URL, SCHEDULER, other_keys[0])
    assert _status(_settings(keys[1]), _bearer(forged)) == (401, "invalid_token")
    header, claims, _ = mint_scheduler_token(URL, SCHEDULER, keys[0]).split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    for token in (f"{header}.{claims}.", f"{none}.{claims}.", f"{header}.{claims}.AAAA"):
        assert _status(_settings(keys[1]), _bearer(token)) == (401, "invalid_token")


def test_a_token_for_another_function_or_out_of_date_is_401(keys: tuple[bytes, str]) -> None:
    settings = _settings(keys[1])
    other = mint_scheduler_token("http://127.0.0.1:9999", SCHEDULER, keys[0])
    assert _status(settings, _bearer(other)) == (401, "invalid_token")
    old = int(time.time()) - 7200
    expired = mint_scheduler_token(URL, SCHEDULER, keys[0], issued_at=old)
    assert _status(settings, _bearer(expired)) == (401, "expired_token")
    ahead = mint_scheduler_token(URL, SCHEDULER, keys[0], issued_at=int(time.time()) + 600)
    assert _status(settings, _bearer(ahead)) == (401, "invalid_token")


def test_without_the_stacks_key_no_local_token_is_accepted(keys: tuple[bytes, str]) -> None:
    token = mint_scheduler_token(URL, SCHEDULER, keys[0])
    assert _status(_settings(None), _bearer(token)) == (401, "invalid_token")


def _stripped(token: str) -> str:
    """The token as Cloud Run hands it to the container: its signature removed."""
    header, claims, _ = token.split(".")
    return f"{header}.{claims}.SIGNATURE_REMOVED_BY_GOOGLE"


def test_deployed_the_claims_are_checked_as_locally_and_cloud_run_checked_the_signature(
    keys: tuple[bytes, str],
) -> None:
    deployed = _settings(None, k_service="reconcile")
    token = mint_scheduler_token(URL, SCHEDULER, keys[0])
    assert verify_scheduler(deployed, _bearer(_stripped(token)), HOST) == SCHEDULER
    user = mint_scheduler_token(URL, "alice@example.com", keys[0])
    assert _status(deployed, _bearer(_stripped(user))) == (403, "forbidden")
    other = mint_scheduler_token("https://other.a.run.app", SCHEDULER, keys[0])
    assert _status(deployed, _bearer(_stripped(other))) == (401, "invalid_token")
    assert _status(deployed, _bearer(mint_token("alice", SCHEDULER))) == (401, "invalid_token")
    assert _status(deployed, None) == (401, "missing_token")


def test_a_deployed_function_refuses_the_local_key(keys: tuple[bytes, str]) -> None:
    environ = {
        "GOOGLE_CLOUD_PROJECT": "demo-billing",
        "STRIPE_SECRET_KEY": "sk_test_unit",
        "JOB_TOKEN_PUBLIC_KEY": keys[1],
    }
    assert BillingSettings.load(environ).job_token_public_key == keys[1]
    with pytest.raises(ConfigError, match="JOB_TOKEN_PUBLIC_KEY"):
        BillingSettings.load(environ | {"K_SERVICE": "reconcile"})
