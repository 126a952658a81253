"""One catalog: the stand-in's seeded catalog, the prices the functions sell and what Terraform
creates in Stripe all come from ``functions/billing/catalog/catalog.json``, and agree.

Read through the Stripe SDK from a running stand-in (as the functions read it), compared with
the Python loader's reading of the file; the local stack's ALLOWED_PRICE_IDS and the Terraform
module's offered prices (evaluated offline) are the same offered lookup keys.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe

from billing import catalog as catalog_module
from devstack.stack import Stack
from devstack.stripe_standin import seeding
from devstack.stripe_standin.options import DEFAULT_FIXTURES
from tests.standin.conftest import StandinServer
from tests.support.infra import evaluate_catalog

CATALOG = catalog_module.load()


def test_the_stand_in_holds_the_catalog_and_its_fixtures_only(
    standin_server: StandinServer,
) -> None:
    data = standin_server.standin.state.data
    assert set(data.prices) == {seeding.price_id(key) for key in CATALOG.prices}
    assert set(data.products) == {seeding.product_id(key) for key in CATALOG.products}
    assert set(data.features) == {seeding.feature_id(key) for key in CATALOG.features}
    fixtures: dict[str, Any] = json.loads(DEFAULT_FIXTURES.read_text())
    assert set(data.coupons) == set(CATALOG.coupons) | set(fixtures["coupons"])
    assert {promo["code"] for promo in data.promotion_codes.values()} == set(
        CATALOG.promotion_codes
    ) | set(fixtures["promotion_codes"])


def test_every_catalog_price_is_seeded_as_declared(client: stripe.StripeClient) -> None:
    for key, price in CATALOG.prices.items():
        found = client.v1.prices.retrieve(seeding.price_id(key))
        assert found.lookup_key == key
        assert found.id == seeding.price_id(key)
        assert found.product == seeding.product_id(price.product), key
        assert (found.unit_amount, found.currency) == (price.unit_amount, price.currency), key
        assert found.recurring is not None
        assert price.recurring is not None
        assert found.recurring.interval == price.recurring.interval, key
        assert found.active is True


def test_a_tiered_prices_tiers_come_only_when_expanded(client: stripe.StripeClient) -> None:
    """Stripe leaves ``tiers`` out unless ``expand[]=tiers`` asks for them
    (https://docs.stripe.com/api/prices/object#price_object-tiers): list-plans asks."""
    price_id = seeding.price_id("basic_api_calls_monthly")
    assert "tiers" not in client.v1.prices.retrieve(price_id)
    found = client.v1.prices.retrieve(price_id, {"expand": ["tiers"]})
    assert [(t.up_to, t.unit_amount, t.unit_amount_decimal) for t in found.tiers or []] == [
        (1000, 0, Decimal("0")),
        (None, 2, Decimal("2")),
    ]
    assert found.tiers_mode == "graduated"
    plain = client.v1.prices.retrieve(seeding.price_id("basic_monthly"), {"expand": ["tiers"]})
    assert plain.tiers is None


def test_products_carry_exactly_the_catalogs_features(
    client: stripe.StripeClient, standin_server: StandinServer
) -> None:
    attached = standin_server.standin.state.data.product_features
    for key, product in CATALOG.products.items():
        assert client.v1.products.retrieve(seeding.product_id(key)).name == product.name
        lookup_keys = [
            f["entitlement_feature"]["lookup_key"] for f in attached[seeding.product_id(key)]
        ]
        assert sorted(lookup_keys) == sorted(product.features), key


def test_offered_codes_are_active_and_test_fixtures_are_not_offered(
    client: stripe.StripeClient,
) -> None:
    for code, promo in CATALOG.promotion_codes.items():
        [found] = client.v1.promotion_codes.list({"code": code}).data
        assert found.active is True, code
        coupon = found.promotion.coupon
        coupon_id = coupon if isinstance(coupon, str) else coupon and coupon.id
        assert coupon_id == promo.coupon, code
    fixtures: dict[str, Any] = json.loads(DEFAULT_FIXTURES.read_text())
    # Test-only codes exist in the stand-in (so tests can show them refused) but are neither
    # in the catalog (so Terraform never creates them) nor usable.
    assert fixtures["promotion_codes"]
    for code in fixtures["promotion_codes"]:
        assert code not in CATALOG.promotion_codes
        [found] = client.v1.promotion_codes.list({"code": code}).data
        assert found.active is False or (found.expires_at or 0) < found.created + 1, code
    assert not set(fixtures["coupons"]) & set(CATALOG.coupons)


def test_the_stack_sells_the_catalogs_offered_prices_and_nothing_else(
    standin_server: StandinServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _plan decides every setting of a run and starts nothing; the Auth emulator's command is
    # only assembled there, so its npm binary need not be installed for this.
    monkeypatch.setattr("devstack.stack._node_tool", lambda name: tmp_path / name)
    stack = Stack(state_dir=tmp_path / "state", env_dir=tmp_path)
    stack._plan()
    sold = stack.function_environ["ALLOWED_PRICE_IDS"].split(",")
    assert sold == seeding.offered_price_ids()
    client = standin_server.client()
    assert sorted(client.v1.prices.retrieve(p).lookup_key or "" for p in sold) == (
        CATALOG.offered_prices()
    )
    not_offered = set(CATALOG.prices) - set(CATALOG.offered_prices())
    assert not_offered  # legacy_monthly: seeded (subscribers keep it), never sold
    assert not {seeding.price_id(key) for key in not_offered} & set(sold)
    assert stack.function_environ["PORTAL_CONFIGURATION_ID"] == "bpc_catalog"


def test_terraform_offers_the_same_prices(tmp_path: Path) -> None:
    rendered = evaluate_catalog(tmp_path, json.loads(catalog_module.CATALOG_PATH.read_text()))
    assert rendered.ok, rendered.error
    assert rendered.outputs["offered_prices"] == CATALOG.offered_prices()
    assert [seeding.price_id(k) for k in rendered.outputs["offered_prices"]] == (
        seeding.offered_price_ids()
    )


def test_a_price_only_in_the_stand_ins_seed_would_be_caught(tmp_path: Path) -> None:
    # The comparison above is over the whole seed: a price added to the stand-in alone (not
    # through the catalog) shows up as a lookup key the catalog does not have.
    data = json.loads(catalog_module.CATALOG_PATH.read_text())
    data["prices"]["gold_monthly"] = {
        "product": "pro", "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"},
        "metered_prices": ["pro_api_calls_monthly"],
    }  # fmt: skip
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    seeded = {entry["lookup_key"] for entry in seeding.entries(path, None)["prices"]}
    assert seeded - set(CATALOG.prices) == {"gold_monthly"}


def seeded_state(catalog_path: Path) -> Any:
    from devstack.stripe_standin.clock import Clock
    from devstack.stripe_standin.state import State

    return State(
        clock=Clock(),
        seed=lambda state: seeding.seed_catalog(state, catalog_path, None),
        event_sink=lambda events: None,
        webhook_endpoints=lambda: 0,
    )


def expected_recurring(price: Any) -> dict[str, Any]:
    """The recurring block Stripe returns for a catalog price (Terraform creates it from the
    same fields: infra/modules/stripe-catalog)."""
    recurring = price.recurring
    return {
        "interval": recurring.interval,
        "interval_count": recurring.interval_count or 1,
        "usage_type": recurring.usage_type or "licensed",
        "meter": f"mtr_{recurring.meter}" if recurring.meter else None,
        "trial_period_days": None,
    }


def expected_restrictions(promo: Any) -> dict[str, Any]:
    return {
        "first_time_transaction": bool(promo.first_time_transaction),
        "minimum_amount": None,
        "minimum_amount_currency": None,
    }


def changed_catalog(tmp_path: Path) -> Path:
    """The real catalog with every field the seed could drop set to a non-default value."""
    data = json.loads(catalog_module.CATALOG_PATH.read_text())
    data["prices"]["pro_yearly"]["recurring"] = {"interval": "month", "interval_count": 3}
    for key in data["prices"]["pro_yearly"]["metered_prices"]:
        data["prices"][key]["recurring"]["interval"] = "month"
        data["prices"][key]["recurring"]["interval_count"] = 3
    data["promotion_codes"]["WELCOME20"] |= {"first_time_transaction": True, "max_redemptions": 50}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("changed", [False, True], ids=["catalog", "every-field-changed"])
def test_the_seed_keeps_every_price_and_code_field_of_the_catalog(
    tmp_path: Path, changed: bool
) -> None:
    path = changed_catalog(tmp_path) if changed else catalog_module.CATALOG_PATH
    catalog = catalog_module.load(path)
    data = seeded_state(path).data
    for key, price in catalog.prices.items():
        seeded = data.prices[seeding.price_id(key)]
        assert seeded["recurring"] == expected_recurring(price), key
        assert seeded["billing_scheme"] == ("tiered" if price.tiers else "per_unit"), key
    if changed:
        assert data.prices[seeding.price_id("pro_yearly")]["recurring"]["interval_count"] == 3
    codes = {promo["code"]: promo for promo in data.promotion_codes.values()}
    for code, promo in catalog.promotion_codes.items():
        assert codes[code]["restrictions"] == expected_restrictions(promo), code
        assert codes[code]["max_redemptions"] == promo.max_redemptions, code
        assert codes[code]["promotion"]["coupon"] == promo.coupon, code
    if changed:
        assert codes["WELCOME20"]["restrictions"]["first_time_transaction"] is True


@pytest.mark.parametrize("path", [catalog_module.CATALOG_PATH])
def test_the_catalog_file_is_what_the_cli_reports(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog_module.main()
    out = capsys.readouterr().out
    assert f"{len(CATALOG.prices)} prices ({len(CATALOG.offered_prices())} offered" in out
    assert path.name == "catalog.json"
