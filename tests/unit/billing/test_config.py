"""Configuration is validated at start and every problem names its variable."""

from __future__ import annotations

import pytest

from billing.config import load_settings
from billing.errors import ConfigError

BASE = {
    "GOOGLE_CLOUD_PROJECT": "demo-billing",
    "STRIPE_SECRET_KEY": "sk_test_abc",
    "ALLOWED_ORIGINS": "http://localhost:3000, https://app.example.com",
    "ALLOWED_PRICE_IDS": "price_basic_monthly,price_pro_monthly",
    "CHECKOUT_SUCCESS_URL": "http://localhost:3000/done?session_id={CHECKOUT_SESSION_ID}",
    "CHECKOUT_CANCEL_URL": "http://localhost:3000/billing",
    "PORTAL_RETURN_URL": "http://localhost:3000/account",
    "SMTP_HOST": "smtp.example.com",
    "MAIL_FROM": "billing@example.com",
    "PRODUCT_NAME": "Acme Cloud",
    "APP_URL": "https://app.example.com",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_reads_comma_separated_lists(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.allowed_origins == ["http://localhost:3000", "https://app.example.com"]
    assert settings.allowed_price_ids == ["price_basic_monthly", "price_pro_monthly"]
    assert settings.trial_days == 0


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("GOOGLE_CLOUD_PROJECT", None, "GOOGLE_CLOUD_PROJECT: is required"),
        ("STRIPE_SECRET_KEY", "pk_test_abc", "STRIPE_SECRET_KEY: must be a Stripe secret"),
        ("ALLOWED_ORIGINS", "localhost:3000", "ALLOWED_ORIGINS: 'localhost:3000' is not an origin"),
        ("ALLOWED_ORIGINS", "*", "ALLOWED_ORIGINS"),
        (
            "ALLOWED_PRICE_IDS",
            "prod_basic",
            "ALLOWED_PRICE_IDS: 'prod_basic' is not a Stripe price",
        ),
        ("TRIAL_DAYS", "-1", "TRIAL_DAYS"),
        ("TRIAL_DAYS", "two", "TRIAL_DAYS"),
        (
            "STRIPE_WEBHOOK_SECRETS",
            "whsec_a,secret",
            "STRIPE_WEBHOOK_SECRETS: each must be a Stripe",
        ),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_bad_settings_fail_naming_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str | None, words: str
) -> None:
    if value is None:
        env.delenv(name)
    else:
        env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert words in str(caught.value)


def test_a_malformed_secret_is_never_echoed(env: pytest.MonkeyPatch) -> None:
    env.setenv("STRIPE_SECRET_KEY", "sk_test_has spaces-and-secret-bits")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "secret-bits" not in str(caught.value)


def test_a_key_with_a_trailing_newline_is_refused_at_start(env: pytest.MonkeyPatch) -> None:
    # What `echo sk_... | gcloud secrets versions add --data-file=-` stores. Accepted, it made
    # every Stripe call fail on an invalid Authorization header whose text held the key.
    env.setenv("STRIPE_SECRET_KEY", "sk_test_trailingnewline\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "STRIPE_SECRET_KEY: must be a Stripe secret" in str(caught.value)
    assert "trailingnewline" not in str(caught.value)


def test_deployed_functions_refuse_the_auth_emulator(env: pytest.MonkeyPatch) -> None:
    env.setenv("K_SERVICE", "create-customer")
    env.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with pytest.raises(ConfigError, match="FIREBASE_AUTH_EMULATOR_HOST"):
        load_settings()


@pytest.mark.parametrize(
    ("mode", "key", "refused"),
    [
        ("test", "sk_live_abc", "STRIPE_SECRET_KEY is a live mode key but STRIPE_MODE is test"),
        ("test", "rk_live_abc", "STRIPE_SECRET_KEY is a live mode key but STRIPE_MODE is test"),
        ("live", "sk_test_abc", "STRIPE_SECRET_KEY is a test mode key but STRIPE_MODE is live"),
        ("live", "rk_live_abc", None),
        ("test", "sk_test_abc", None),
    ],
)
def test_a_key_of_the_other_stripe_mode_is_refused(
    env: pytest.MonkeyPatch, mode: str, key: str, refused: str | None
) -> None:
    env.setenv("STRIPE_MODE", mode)
    env.setenv("STRIPE_SECRET_KEY", key)
    if refused is None:
        assert load_settings().stripe_mode == mode
    else:
        with pytest.raises(ConfigError, match=refused):
            load_settings()


def test_live_key_cannot_point_at_a_stand_in(env: pytest.MonkeyPatch) -> None:
    env.setenv("STRIPE_SECRET_KEY", "sk_live_abc")
    env.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    with pytest.raises(ConfigError, match="live key"):
        load_settings()


def test_a_deployed_function_refuses_a_stand_in_even_with_a_test_key(
    env: pytest.MonkeyPatch,
) -> None:
    # Test keys are what a staging deploy uses: a stand-in there would take its payments.
    env.setenv("K_SERVICE", "create-subscription")
    env.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    env.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    with pytest.raises(ConfigError, match=r"STRIPE_API_BASE .* deployed function"):
        load_settings()
    env.delenv("K_SERVICE")
    assert load_settings().stripe_api_base == "http://127.0.0.1:12111"  # locally it is the point


def test_require_names_every_missing_setting(env: pytest.MonkeyPatch) -> None:
    from app.startup import check

    env.delenv("STRIPE_SECRET_KEY")
    with pytest.raises(ConfigError, match=r"STRIPE_SECRET_KEY.*STRIPE_WEBHOOK_SECRETS"):
        check("stripe_webhook")
    env.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    env.delenv("PORTAL_RETURN_URL")
    with pytest.raises(ConfigError, match="PORTAL_RETURN_URL, STRIPE_WEBHOOK_SECRETS"):
        load_settings().require("portal_return_url", "stripe_webhook_secrets")


def test_main_refuses_to_start_without_a_required_setting(env: pytest.MonkeyPatch) -> None:
    from app.startup import check

    env.delenv("STRIPE_SECRET_KEY")
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        check("create_customer")
    env.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    check("create_customer")
    with pytest.raises(ConfigError, match="no_such_function"):
        check("no_such_function")


def test_an_instance_with_a_bad_setting_exits_at_start_naming_it() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    functions = Path(__file__).resolve().parents[3] / "functions"
    result = subprocess.run(
        [sys.executable, "-c", "import main"],
        cwd=functions,
        env={**BASE, "ALLOWED_ORIGINS": "localhost:3000", "PYTHONPATH": str(functions)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["severity"] == "CRITICAL"
    assert "ALLOWED_ORIGINS" in line["message"]


def test_hosted_page_return_urls_are_validated_and_required_where_used(
    env: pytest.MonkeyPatch,
) -> None:
    from app.startup import check

    assert load_settings().checkout_success_url == BASE["CHECKOUT_SUCCESS_URL"]
    env.setenv("PORTAL_RETURN_URL", "javascript:alert(1)")
    with pytest.raises(ConfigError, match="PORTAL_RETURN_URL"):
        load_settings()
    env.delenv("PORTAL_RETURN_URL")
    env.delenv("CHECKOUT_SUCCESS_URL")
    with pytest.raises(ConfigError, match="CHECKOUT_SUCCESS_URL"):
        check("create_checkout_session")
    with pytest.raises(ConfigError, match="PORTAL_RETURN_URL"):
        check("create_portal_session")
    check("change_plan")  # needs neither


def test_deployed_functions_send_customers_back_over_https_only(env: pytest.MonkeyPatch) -> None:
    env.setenv("K_SERVICE", "create-checkout-session")
    with pytest.raises(ConfigError, match="CHECKOUT_SUCCESS_URL must be an https"):
        load_settings()
    for name in ("CHECKOUT_SUCCESS_URL", "CHECKOUT_CANCEL_URL", "PORTAL_RETURN_URL"):
        env.setenv(name, BASE[name].replace("http://localhost:3000", "https://app.example.com"))
    assert load_settings().portal_return_url == "https://app.example.com/account"


def test_the_env_example_defaults_start_every_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.startup import check
    from devstack.stack import REPO_ROOT, read_env_file

    for key, value in read_env_file(REPO_ROOT / ".env.example").items():
        monkeypatch.setenv(key, value)
    # What the local stack adds per run (its stand-in's signing secret, its emulators, the
    # catalog's offered prices by the stand-in's ids, its stand-in scheduler's account).
    from devstack.stripe_standin import seeding
    from devstack.tokens import scheduler_email

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_" + "r" * 32)
    monkeypatch.setenv("JOB_INVOKER_EMAIL", scheduler_email("demo-billing"))
    monkeypatch.setenv("ALLOWED_PRICE_IDS", ",".join(seeding.offered_price_ids()))
    check(None)


def test_the_email_function_needs_neither_stripe_nor_an_smtp_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.startup import check

    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    check("send_email")
    monkeypatch.delenv("MAIL_FROM")
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        check("send_email")


def test_a_billing_function_validates_no_mail_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.startup import check

    for key, value in BASE.items():
        if not key.startswith(("SMTP_", "MAIL_", "PRODUCT_", "APP_")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAIL_FROM", "not an address")  # the email function's problem only
    check("create_customer")
    assert load_settings().allowed_price_ids == ["price_basic_monthly", "price_pro_monthly"]


def test_settings_one_function_needs_are_handed_out_as_present(env: pytest.MonkeyPatch) -> None:
    pages = load_settings().checkout_pages()
    assert (pages.success_url, pages.cancel_url) == (
        BASE["CHECKOUT_SUCCESS_URL"],
        BASE["CHECKOUT_CANCEL_URL"],
    )
    assert load_settings().portal_return() == BASE["PORTAL_RETURN_URL"]
    env.delenv("CHECKOUT_CANCEL_URL")
    env.delenv("PORTAL_RETURN_URL")
    with pytest.raises(ConfigError, match=r"Missing required setting.*: CHECKOUT_CANCEL_URL$"):
        load_settings().checkout_pages()
    with pytest.raises(ConfigError, match="PORTAL_RETURN_URL"):
        load_settings().portal_return()


def test_reads_each_plans_metered_prices(env: pytest.MonkeyPatch) -> None:
    env.setenv("METERED_PRICE_IDS", "price_pro=price_pro_calls+price_pro_exports, price_b=price_c")
    assert load_settings().metered_price_ids == {
        "price_pro": ["price_pro_calls", "price_pro_exports"],
        "price_b": ["price_c"],
    }


@pytest.mark.parametrize(
    "value", ["price_pro", "price_pro=calls", "price_a=price_b,price_a=price_c", "=price_b"]
)
def test_a_malformed_metered_price_list_names_the_setting(
    env: pytest.MonkeyPatch, value: str
) -> None:
    env.setenv("METERED_PRICE_IDS", value)
    with pytest.raises(ConfigError, match="METERED_PRICE_IDS"):
        load_settings()
