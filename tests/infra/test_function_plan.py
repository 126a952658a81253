"""What Terraform deploys, evaluated by Terraform itself (infra/plan.tf and modules/function-plan).

Each test runs ``terraform apply`` on the provider-free part of infra/ with a manifest and
variables, as an operator's ``terraform plan`` would compute them, and checks the result: who
is public, which secrets each function can read, timeouts, settings, sizing.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing.config import BillingSettings
from tests.support.infra import BASE_VARS, Evaluation, evaluate, every_kind_manifest, real_manifest

LOCAL_ONLY = {"FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"}
LOCAL_ONLY |= {"STRIPE_API_BASE", "JOB_TOKEN_PUBLIC_KEY"}


def billing_defaults(**values: Any) -> BillingSettings:
    """The billing functions' settings where nothing but the required ones is set."""
    key = {"stripe_secret_key": "sk_test_" + "plan"}  # assembled: no key-shaped literal
    return BillingSettings.load({}, **({"google_cloud_project": "demo-billing"} | key | values))


def variables(**overrides: Any) -> dict[str, Any]:
    merged = copy.deepcopy(BASE_VARS)
    merged.update(overrides)
    return merged


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    result = evaluate(
        tmp_path_factory.mktemp("every-kind"),
        every_kind_manifest(),
        variables(optional_secrets=["SMTP_PASSWORD"]),
    )
    assert result.ok, result.error
    return result


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    result = evaluate(tmp_path_factory.mktemp("real"), real_manifest(), variables())
    assert result.ok, result.error
    return result


def test_every_registry_function_is_deployed_with_its_entry_point(real: Evaluation) -> None:
    from app import registry

    deployed = {name: fn["entry_point"] for name, fn in real.outputs["functions"].items()}
    assert deployed == {fn.deployed_name: fn.name for fn in registry.FUNCTIONS}


def test_only_browser_and_webhook_functions_are_public(every_kind: Evaluation) -> None:
    functions = every_kind.outputs["functions"]
    public = {name for name, fn in functions.items() if fn["kind"] in ("browser", "webhook")}
    assert set(every_kind.outputs["public"]) == public
    assert set(every_kind.outputs["private"]) == {"send-email", "record-usage", "reconcile"}
    for name, fn in functions.items():
        expected = "ALLOW_ALL" if name in public else "ALLOW_INTERNAL_ONLY"
        assert fn["ingress"] == expected, name
        # A private function is called by its own invoker account; a public one has none.
        assert (fn["invoker_account_id"] is None) == (name in public), name


def test_event_and_job_functions_are_routed_to_their_triggers(every_kind: Evaluation) -> None:
    assert every_kind.outputs["event"] == ["record-usage", "send-email"]
    assert every_kind.outputs["job"] == ["reconcile"]


def test_a_job_accepts_the_token_of_its_own_invoker_account_only(every_kind: Evaluation) -> None:
    # The account Cloud Scheduler calls the job as (scheduler.tf) is the one email its token
    # may carry (billing.job_auth); no other function is told of one.
    for name, fn in every_kind.outputs["functions"].items():
        if fn["kind"] == "job":
            expected = f"{fn['invoker_account_id']}@demo-billing.iam.gserviceaccount.com"
            assert fn["env"]["JOB_INVOKER_EMAIL"] == expected, name
            BillingSettings.load(
                {"STRIPE_SECRET_KEY": "sk_test_x", **fn["env"]}
            ).job_invoker()  # a value the function starts with
        else:
            assert "JOB_INVOKER_EMAIL" not in fn["env"], name


def test_each_event_function_is_pushed_from_its_own_topic(every_kind: Evaluation) -> None:
    # The email function must never receive usage, nor the metering function notifications.
    assert every_kind.outputs["notification_pushed"] == ["send-email"]
    assert every_kind.outputs["usage_pushed"] == ["record-usage"]
    assert every_kind.outputs["env"]["USAGE_TOPIC"] == "billing-usage"


def test_an_event_function_marked_public_is_refused(tmp_path: Path) -> None:
    manifest = every_kind_manifest()
    manifest["functions"]["send-email"]["public"] = True
    result = evaluate(tmp_path, manifest, variables())
    assert not result.ok
    assert "Exactly the browser and webhook functions are public" in result.error


def test_each_function_can_read_only_its_own_secrets(every_kind: Evaluation) -> None:
    bindings = {
        (b["function"], b["secret"]) for b in every_kind.outputs["secret_bindings"].values()
    }
    manifest = every_kind_manifest()["functions"]
    expected = {(name, secret) for name, fn in manifest.items() for secret in fn["secrets"]}
    expected.add(("send-email", "SMTP_PASSWORD"))  # enabled optional secret
    assert bindings == expected
    assert ("create-customer", "STRIPE_WEBHOOK_SECRETS") not in bindings
    # infra/bootstrap grants the reads (the deployer cannot): every secret a revision is given is
    # one the bootstrap let its account read, and no function may read another's secret.
    granted = {(a["function"], a["secret"]) for a in every_kind.outputs["secret_access"].values()}
    assert bindings <= granted
    assert granted == expected
    assert (
        every_kind.outputs["secret_ids"]["STRIPE_WEBHOOK_SECRETS"]
        == "billing-stripe-webhook-secrets"
    )
    assert every_kind.outputs["functions"]["send-email"]["secrets"] == ["SMTP_PASSWORD"]
    # Secret Manager holds every secret, optional ones too, so a value can be added before use.
    assert every_kind.outputs["secrets"] == sorted(
        {"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRETS", "SMTP_PASSWORD"}
    )


def test_no_secret_is_passed_as_a_plain_setting(every_kind: Evaluation, tmp_path: Path) -> None:
    for name, fn in every_kind.outputs["functions"].items():
        assert not set(fn["env"]) & set(every_kind.outputs["secrets"]), name
    result = evaluate(
        tmp_path, every_kind_manifest(), variables(extra_env={"SMTP_PASSWORD": "relay-password"})
    )
    assert not result.ok
    assert "may not set secrets" in result.error


def stripe_worst_case(settings: BillingSettings) -> float:
    """One Stripe call at worst, from stripe-python's own retry constants."""
    client = stripe.HTTPClient
    retries = settings.stripe_max_network_retries
    sleeps = sum(
        min(client.INITIAL_DELAY * 2 ** (n - 1), client.MAX_DELAY) for n in range(1, retries + 1)
    )
    attempt = settings.stripe_connect_timeout + settings.stripe_read_timeout
    return float((retries + 1) * attempt + sleeps)


def test_http_timeout_outlasts_stripe_worst_case_from_the_same_values(real: Evaluation) -> None:
    defaults = billing_defaults()
    worst = stripe_worst_case(defaults)
    assert real.outputs["stripe_worst_case_seconds"] == pytest.approx(worst)
    callers_of_stripe = ("browser", "webhook", "job")
    checked = 0
    for name, fn in real.outputs["functions"].items():
        if fn["kind"] not in callers_of_stripe:
            continue  # the email function never calls Stripe
        checked += 1
        assert fn["timeout_seconds"] > worst, name
        # Firestore calls around the Stripe call fit too: at most three per operation.
        assert fn["timeout_seconds"] >= math.ceil(worst + 3 * defaults.firestore_timeout_seconds)
        # The functions are told the very values the timeout was computed from.
        assert fn["env"]["STRIPE_MAX_NETWORK_RETRIES"] == str(defaults.stripe_max_network_retries)
        assert float(fn["env"]["STRIPE_CONNECT_TIMEOUT"]) == defaults.stripe_connect_timeout
        assert float(fn["env"]["STRIPE_READ_TIMEOUT"]) == defaults.stripe_read_timeout
        assert float(fn["env"]["FIRESTORE_TIMEOUT_SECONDS"]) == defaults.firestore_timeout_seconds
    assert checked >= 3


def test_a_longer_stripe_timeout_moves_the_function_timeout(tmp_path: Path) -> None:
    slow = {"stripe_max_network_retries": 3, "stripe_read_timeout": 80}
    result = evaluate(tmp_path, real_manifest(), variables(upstream_timeouts=slow))
    assert result.ok, result.error
    settings = billing_defaults(stripe_max_network_retries=3, stripe_read_timeout=80)
    worst = stripe_worst_case(settings)
    for fn in result.outputs["functions"].values():
        assert fn["env"]["STRIPE_READ_TIMEOUT"] == "80"
        if fn["kind"] != "event":  # the email function never calls Stripe
            assert fn["timeout_seconds"] > worst > 300


def test_an_http_timeout_below_stripe_worst_case_is_refused(tmp_path: Path) -> None:
    result = evaluate(
        tmp_path, real_manifest(), variables(kinds={"browser": {"timeout_seconds": 60}})
    )
    assert not result.ok
    assert "must exceed the worst case of one Stripe call" in result.error


def test_threads_cover_concurrency_and_concurrency_has_a_cpu(every_kind: Evaluation) -> None:
    for name, fn in every_kind.outputs["functions"].items():
        assert int(fn["env"]["THREADS"]) >= fn["concurrency"], name
        if fn["concurrency"] > 1:
            assert float(fn["cpu"]) >= 1, name
    assert every_kind.outputs["functions"]["reconcile"]["max_instances"] == 1


def test_a_missing_required_setting_is_refused_naming_it(tmp_path: Path) -> None:
    manifest = real_manifest()
    manifest["functions"]["create-customer"]["settings"] = ["TRIAL_DAYS"]
    result = evaluate(tmp_path, manifest, variables())
    assert not result.ok
    assert "create-customer needs TRIAL_DAYS" in result.error
    fixed = variables(settings={**BASE_VARS["settings"], "trial_days": 14})
    result = evaluate(tmp_path / "fixed", manifest, fixed)
    assert result.ok, result.error
    assert result.outputs["functions"]["create-customer"]["env"]["TRIAL_DAYS"] == "14"


def test_unset_optional_settings_are_not_passed(real: Evaluation) -> None:
    env = real.outputs["env"]
    assert env["ALLOWED_ORIGINS"] == "https://app.example.com"
    # Sold prices are not a setting: Stripe's ids of the catalog's offered prices (stubbed here).
    assert env["ALLOWED_PRICE_IDS"] == ",".join(
        f"price_stub_{key}" for key in real.outputs["offered_prices"]
    )
    assert env["PORTAL_CONFIGURATION_ID"] == "bpc_stub"
    assert env["STRIPE_MODE"] == "test"  # the key Secret Manager holds must agree at start
    assert env["GOOGLE_CLOUD_PROJECT"] == "demo-billing"
    assert env["NOTIFICATIONS_TOPIC"] == billing_defaults().notifications_topic
    assert "TRIAL_DAYS" not in env
    assert "LOG_LEVEL" not in env


def test_no_local_only_setting_reaches_a_function(every_kind: Evaluation) -> None:
    for name, fn in every_kind.outputs["functions"].items():
        assert not set(fn["env"]) & LOCAL_ONLY, name


@pytest.mark.parametrize("key", sorted(LOCAL_ONLY))
def test_local_only_settings_are_refused_as_extra_env(tmp_path: Path, key: str) -> None:
    result = evaluate(tmp_path, real_manifest(), variables(extra_env={key: "127.0.0.1:9099"}))
    assert not result.ok
    assert "local-only settings" in result.error


def test_extra_env_cannot_replace_a_setting_the_configuration_sets(tmp_path: Path) -> None:
    # The catalog's prices and the portal configuration come from Stripe through this apply; the
    # origins and the trial from `settings` (TRIAL_DAYS even when left unset, so the code's
    # default holds); the timeouts from upstream_timeouts.
    overrides = {
        "ALLOWED_PRICE_IDS": "price_attacker",
        "PORTAL_CONFIGURATION_ID": "bpc_other",
        "ALLOWED_ORIGINS": "*",
        "TRIAL_DAYS": "365",
        "GOOGLE_CLOUD_PROJECT": "other-project",
        "THREADS": "64",
        "STRIPE_READ_TIMEOUT": "600",
    }
    result = evaluate(tmp_path, real_manifest(), variables(extra_env=overrides))
    assert not result.ok
    message = " ".join(result.error.split())
    assert "extra_env may not set" in message
    named = message.split("extra_env may not set", 1)[1].split(":", 1)[0]
    assert {key.strip() for key in named.split(",")} == set(overrides)


def test_extra_env_adds_a_setting_the_configuration_does_not_name(tmp_path: Path) -> None:
    result = evaluate(tmp_path, real_manifest(), variables(extra_env={"NEW_SETTING": "on"}))
    assert result.ok, result.error
    for fn in result.outputs["functions"].values():
        assert fn["env"]["NEW_SETTING"] == "on"


def test_service_account_ids_are_valid_and_distinct(every_kind: Evaluation) -> None:
    import re

    ids = []
    for fn in every_kind.outputs["functions"].values():
        ids += [i for i in (fn["service_account_id"], fn["invoker_account_id"]) if i]
    assert len(ids) == len(set(ids))
    for account in ids:
        assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", account), account


def test_the_archive_holds_the_package_without_caches(real: Evaluation) -> None:
    files = real.outputs["source_files"]
    assert "main.py" in files
    assert "app/registry.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc") or "/." in f]
    # requirements.txt is added from the repository root; one in functions/ would clash.
    assert "requirements.txt" not in files


def test_each_function_is_deployed_as_the_registry_measured(real: Evaluation) -> None:
    from app import registry

    for fn in registry.FUNCTIONS:
        planned = real.outputs["functions"][fn.deployed_name]
        measured = registry.INSTANCES[fn.kind]
        assert planned["concurrency"] == measured.concurrency, fn.name
        assert (planned["cpu"], planned["memory"]) == (measured.cpu, measured.memory), fn.name
        assert int(planned["env"]["THREADS"]) == max(measured.threads, measured.concurrency)


def test_warm_instances_are_set_per_kind(tmp_path: Path) -> None:
    result = evaluate(
        tmp_path, every_kind_manifest(), variables(kinds={"browser": {"min_instances": 1}})
    )
    assert result.ok, result.error
    warm = {name: fn["min_instances"] for name, fn in result.outputs["functions"].items()}
    kinds = {name: fn["kind"] for name, fn in result.outputs["functions"].items()}
    assert {warm[name] for name in warm if kinds[name] == "browser"} == {1}
    assert {warm[name] for name in warm if kinds[name] != "browser"} == {0}


@pytest.mark.parametrize("warm", [-1, 1.5, 11])
def test_warm_instances_outside_zero_to_max_are_refused(tmp_path: Path, warm: float) -> None:
    result = evaluate(
        tmp_path, real_manifest(), variables(kinds={"browser": {"min_instances": warm}})
    )
    assert not result.ok
    assert "min_instances must be a whole number from 0 to the kind's max_instances" in result.error


def test_only_the_webhook_may_publish_notifications(every_kind: Evaluation, tmp_path: Path) -> None:
    # The email function mails whoever a message names: its topic's publishers are the
    # webhook's accounts only, and no variable can add another kind.
    functions = every_kind.outputs["functions"]
    publishers = {name for name, fn in functions.items() if fn["publishes"]}
    assert publishers == {name for name, fn in functions.items() if fn["kind"] == "webhook"}
    assert publishers
    asked = evaluate(
        tmp_path,
        every_kind_manifest(),
        variables(kinds={kind: {"publishes": True} for kind in ("browser", "event", "job")}),
    )
    functions = asked.outputs["functions"] if asked.ok else {}
    assert {name for name, fn in functions.items() if fn["publishes"]} <= publishers
