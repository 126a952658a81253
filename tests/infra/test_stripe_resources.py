"""infra/stripe.tf, read as Terraform reads it: what it creates in Stripe, from which source.

The stripe provider cannot be downloaded here (no `terraform validate`); its arguments are
checked against the schema extract by test_provider_schema.py, the catalog's rendering by
test_stripe_catalog.py. These pin where each Stripe resource's values come from: the catalog,
the code's webhook event list and API version, the operator's settings, and where the webhook
signing secret goes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from app import registry
from billing.config import BillingSettings
from billing.entitlements import events as webhooks
from tests.support.infra import (
    BASE_VARS,
    INFRA,
    REPO,
    Evaluation,
    evaluate,
    load_tf,
    real_manifest,
)

STRIPE_TF = INFRA / "stripe.tf"


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for entry in load_tf(STRIPE_TF)["resource"]:
        for rtype, named in entry.items():
            for name, body in named.items():
                if not name.startswith("__"):
                    found[(rtype.strip('"'), name.strip('"'))] = body
    return found


def locals_of(path: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in load_tf(path).get("locals", []):
        merged |= {k: v for k, v in entry.items() if not k.startswith("__")}
    return merged


def test_every_catalog_resource_iterates_over_the_catalog_module() -> None:
    expected = {
        "stripe_entitlements_feature": "features",
        "stripe_product": "products",
        "stripe_product_feature": "product_features",
        "stripe_billing_meter": "meters",
        "stripe_price": "prices",
        "stripe_coupon": "coupons",
        "stripe_promotion_code": "promotion_codes",
    }
    found = {rtype: body.get("for_each") for (rtype, _), body in resources().items()}
    for rtype, output in expected.items():
        assert found[rtype] == f"${{module.catalog.{output}}}", rtype
    # Nothing in the Terraform names a product, price or code: the catalog does.
    text = STRIPE_TF.read_text()
    for word in ("basic_monthly", "pro_monthly", "WELCOME20", '"pro"', '"basic"'):
        assert word not in text


def test_prices_are_keyed_by_lookup_key_and_replaced_without_a_gap() -> None:
    price = resources()[("stripe_price", "price")]
    assert price["lookup_key"] == "${each.key}"
    # A changed amount is a new price that takes the lookup key over before the old is archived.
    assert price["transfer_lookup_key"] is True
    assert price["lifecycle"][0]["create_before_destroy"] is True
    assert price["product"] == "${stripe_product.product[each.value.product].id}"


def test_the_manifest_carries_the_codes_webhook_events_and_api_version() -> None:
    manifest = real_manifest()
    assert manifest["stripe"]["webhook_events"] == sorted(webhooks.RELEVANT)
    assert manifest["stripe"]["api_version"] == stripe.api_version
    assert json.loads(registry.render_manifest())["stripe"] == manifest["stripe"]


def test_the_webhook_endpoint_subscribes_to_exactly_what_the_webhook_handles() -> None:
    endpoint = resources()[("stripe_webhook_endpoint", "billing")]
    # One list: the code's, through functions.json (a test fails when that file drifts).
    assert endpoint["enabled_events"] == "${local.manifest.stripe.webhook_events}"
    assert endpoint["api_version"] == "${local.manifest.stripe.api_version}"
    assert endpoint["url"] == "${local.webhook_url}"
    assert "*" not in webhooks.RELEVANT


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    result = evaluate(tmp_path_factory.mktemp("stripe"), real_manifest(), dict(BASE_VARS))
    assert result.ok, result.error
    return result


def test_the_webhook_url_is_the_webhook_functions_address(planned: Evaluation) -> None:
    [webhook] = [fn.deployed_name for fn in registry.FUNCTIONS if fn.kind == "webhook"]
    region = "europe-west1"  # the variable's default
    assert planned.outputs["webhook_url"] == (
        f"https://{region}-{BASE_VARS['project_id']}.cloudfunctions.net/{webhook}"
    )


def test_a_price_in_the_other_mode_stops_the_apply() -> None:
    # A postcondition fails the apply; a check block would only warn.
    price = resources()[("stripe_price", "price")]
    [postcondition] = price["lifecycle"][0]["postcondition"]
    assert postcondition["condition"] == '${self.livemode == (var.stripe.mode == "live")}'
    for path in sorted(INFRA.glob("*.tf")):
        assert "check" not in load_tf(path), path


def test_the_portal_return_url_is_required(tmp_path: Path) -> None:
    # The portal configuration (stripe.tf) has no default return URL to fall back on.
    settings = {k: v for k, v in BASE_VARS["settings"].items() if k != "portal_return_url"}
    result = evaluate(tmp_path, real_manifest(), {**BASE_VARS, "settings": settings})
    assert not result.ok
    assert "portal_return_url" in result.error


def test_the_signing_secret_goes_straight_into_secret_manager() -> None:
    version = resources()[("google_secret_manager_secret_version", "stripe_webhook")]
    assert version["secret"] == (
        '"projects/${var.project_id}/secrets/${local.secret_ids["STRIPE_WEBHOOK_SECRETS"]}"'
    )
    # Write-only: Terraform passes it to Secret Manager and keeps it in neither state nor plan.
    assert "secret_data" not in version
    data = version["secret_data_wo"]
    assert "stripe_webhook_endpoint.billing[generation].secret" in data
    assert data.startswith('${join(",", [for generation in')
    assert "var.stripe.webhook_generations" in data
    # Every change of the endpoints is a new version...
    assert "stripe_webhook_endpoint.billing" in version["secret_data_wo_version"]
    # ...which the webhook function's revision pins, so it restarts with the new value.
    pinned = locals_of(STRIPE_TF)["pinned_secret_versions"]
    assert pinned == {
        "STRIPE_WEBHOOK_SECRETS": "${google_secret_manager_secret_version.stripe_webhook.version}"
    }
    functions_tf = (INFRA / "functions.tf").read_text()
    assert (
        'version = lookup(local.pinned_secret_versions, secret_environment_variables.value, "latest")'
        in functions_tf
    )


def test_rolling_overlaps_two_endpoints_whose_secrets_the_webhook_both_accepts() -> None:
    endpoint = resources()[("stripe_webhook_endpoint", "billing")]
    assert endpoint["for_each"] == "${toset(var.stripe.webhook_generations)}"
    assert endpoint["lifecycle"][0]["create_before_destroy"] is True
    # The comma-joined value is what the webhook's settings read as several secrets.
    settings = BillingSettings(
        google_cloud_project="demo-billing",
        stripe_secret_key="sk_test_unit",  # type: ignore[arg-type]  # coerced to SecretStr
        stripe_webhook_secrets="whsec_new,whsec_old",  # type: ignore[arg-type]
    )
    assert [s.get_secret_value() for s in settings.stripe_webhook_secrets] == [
        "whsec_new",
        "whsec_old",
    ]


def test_a_rolling_of_three_generations_or_none_is_refused(tmp_path: Path) -> None:
    for bad in ([], ["1", "2", "3"], ["1", "1"]):
        result = evaluate(
            tmp_path / str(len(bad)), real_manifest(),
            BASE_VARS | {"stripe": {"mode": "test", "webhook_generations": bad}},
        )  # fmt: skip
        assert not result.ok
        assert "stripe.webhook_generations holds one or two distinct" in result.error


def test_the_portal_is_limited_to_the_catalogs_switches_and_returns_to_the_app() -> None:
    portal = resources()[("stripe_billing_portal_configuration", "portal")]
    assert portal["default_return_url"] == "${var.settings.portal_return_url}"
    update = portal["features"]["subscription_update"]
    assert "module.catalog.portal.products" in update["products"]
    assert "stripe_price.price[key].id" in update["products"]
    assert update["default_allowed_updates"] == ['"price"']
    assert (
        portal["features"]["subscription_cancel"]["mode"] == "${module.catalog.portal.cancel_mode}"
    )


def test_functions_sell_the_offered_prices_and_use_the_portal_terraform_made(
    planned: Evaluation,
) -> None:
    stripe_locals = locals_of(STRIPE_TF)
    assert stripe_locals["offered_price_ids"] == (
        "${[for key in module.catalog.offered_prices : stripe_price.price[key].id]}"
    )
    assert (
        stripe_locals["portal_configuration_id"]
        == "${stripe_billing_portal_configuration.portal.id}"
    )
    # No hand-kept list: the variable is gone, and what the functions get is the catalog's.
    assert "allowed_price_ids" not in (INFRA / "variables.tf").read_text()
    env = planned.outputs["env"]
    assert env["ALLOWED_PRICE_IDS"].split(",") == [
        f"price_stub_{key}" for key in planned.outputs["offered_prices"]
    ]


def test_the_provider_is_pinned_to_the_version_the_extract_was_taken_from() -> None:
    versions = load_tf(INFRA / "versions.tf")["terraform"][0]["required_providers"][0]
    assert versions["stripe"] == {"source": '"stripe/stripe"', "version": '"0.3.0"'}
    extract = json.loads((INFRA / "schema" / "stripe-provider-schema.json").read_text())
    assert any("terraform-provider-stripe v0.3.0 " in source for source in extract["sources"])
    used = {rtype for rtype, _ in resources() if rtype.startswith("stripe_")}
    assert used <= set(extract["resource"])
    assert len(used) == 9


@pytest.mark.parametrize("mode", ["test", "live"])
def test_each_modes_tfvars_evaluates_and_says_its_mode(tmp_path: Path, mode: str) -> None:
    tfvars = INFRA / "environments" / f"{mode}.tfvars"
    result = evaluate(
        tmp_path, real_manifest(), {"stripe_api_key": f"rk_{mode}_offlinecheck"}, tfvars
    )
    assert result.ok, result.error
    assert f'mode = "{mode}"' in " ".join(tfvars.read_text().split())


def test_a_key_of_the_other_mode_is_refused(tmp_path: Path) -> None:
    tfvars = INFRA / "environments" / "live.tfvars"
    result = evaluate(tmp_path, real_manifest(), {"stripe_api_key": "sk_test_offlinecheck"}, tfvars)
    assert not result.ok
    assert "stripe_api_key must be a live mode key" in result.error


def test_a_deployment_checks_the_projects_mode_label() -> None:
    project = load_tf(INFRA / "main.tf")["data"][0]['"google_project"']['"this"']
    condition = project["lifecycle"][0]["postcondition"][0]["condition"]
    assert '"stripe-mode"' in condition
    assert "var.stripe.mode" in condition
    assert (REPO / "infra" / "environments" / "test.tfvars").is_file()
