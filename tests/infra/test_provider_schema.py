"""Every block of infra/**/*.tf against its provider's schema, offline.

The google (and archive) schema comes from the cdktf prebuilt provider packages' .jsii manifests
(google 6.50.0), extracted by `make infra-schema` into infra/schema/provider-schema.json; the
stripe one from stripe/terraform-provider-stripe's published source at the pinned tag, extracted
by `make infra-schema-stripe` into infra/schema/stripe-provider-schema.json.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest

from tests.support.infra import INFRA, SCHEMA, STRIPE_SCHEMA, load_tf, tf_files
from tests.support.schema_check import check_documents, coverage


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    google: dict[str, Any] = json.loads(SCHEMA.read_text())
    stripe: dict[str, Any] = json.loads(STRIPE_SCHEMA.read_text())
    return {
        "sources": google["sources"] + stripe["sources"],
        **{kind: google[kind] | stripe[kind] for kind in ("resource", "data")},
    }


def parsed() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    documents, texts = {}, {}
    for path in tf_files():
        name = str(path.relative_to(INFRA))
        documents[name] = load_tf(path)
        texts[name] = path.read_text()
    return documents, texts


def test_every_resource_matches_the_provider_schema(schema: dict[str, Any]) -> None:
    documents, texts = parsed()
    problems = check_documents(documents, texts, schema)
    assert problems == []
    types, names = coverage(documents)
    # `python -m tests.support.schema_check` prints how much the check goes through.
    assert types >= 35
    assert names > 350
    stripe_types = {rtype for rtype in schema["resource"] if rtype.startswith("stripe_")}
    assert len(stripe_types) == 9


def test_the_extract_is_the_provider_version_we_bound(schema: dict[str, Any]) -> None:
    assert any("hashicorp/google 6.50.0" in source for source in schema["sources"])
    versions = (INFRA / "versions.tf").read_text()
    # 6.24 and later refresh a secret version without reading its value: the deployer may not.
    assert '">= 6.24, < 8.0"' in versions
    assert '">= 6.24, < 8.0"' in (INFRA / "bootstrap" / "versions.tf").read_text()


SNIPPET = """
resource "google_pubsub_subscription" "push" {
  name  = "n"
  topic = "t"
  ack_deadline_secs = 10
  push_config {
    push_endpoint = "https://x"
    oidc_token {
      service_account = "a@b"
    }
  }
  retry_policy {
    minimum_backoff = "10s"
  }
  retry_policy {
    minimum_backoff = "20s"
  }
  dynamic "dead_letter" {
    for_each = []
    content {}
  }
}
resource "google_secret_manager_secret" "s" {
  secret_id = google_pubsub_subscription.push.endpoint
}
resource "google_made_up" "x" {}
"""


def test_the_check_catches_wrong_names_and_missing_requirements(schema: dict[str, Any]) -> None:
    problems = "\n".join(
        check_documents({"bad.tf": dict(hcl2.loads(SNIPPET))}, {"bad.tf": SNIPPET}, schema)
    )
    assert "'ack_deadline_secs' is not an argument here" in problems
    assert "'service_account' is not an argument here" in problems  # it is service_account_email
    assert "required argument 'service_account_email' is missing" in problems
    assert "block 'retry_policy' may appear once" in problems
    assert "dynamic block 'dead_letter' is not a block here" in problems
    assert "required block 'replication' is missing" in problems
    assert "exports no attribute 'endpoint'" in problems
    assert "google_made_up is not in the schema extract" in problems


STRIPE_SNIPPET = """
resource "stripe_price" "p" {
  product     = "prod_x"
  unit_amount = 100
  recurring {
    interval   = "month"
    usage      = "metered"
  }
}
resource "stripe_billing_portal_configuration" "portal" {
  features = {
    subscription_update = {
      products = [{ product = "prod_x" }]
      prorate  = "none"
    }
  }
}
resource "stripe_webhook_endpoint" "hook" {
  url    = "https://x"
  events = ["invoice.paid"]
}
resource "google_secret_manager_secret" "s" {
  secret_id = stripe_price.p.transfer_lookup_key
  replication {
    auto {}
  }
}
"""


def test_the_check_catches_stripe_mistakes_nested_objects_included(schema: dict[str, Any]) -> None:
    problems = "\n".join(
        check_documents(
            {"bad.tf": dict(hcl2.loads(STRIPE_SNIPPET))}, {"bad.tf": STRIPE_SNIPPET}, schema
        )
    )
    assert "stripe_price.p: required argument 'currency' is missing" in problems
    assert "stripe_price.p.recurring: 'usage' is not an argument here" in problems
    assert "features.subscription_update: 'prorate' is not an attribute of this object" in problems
    assert "features.subscription_update: required attribute 'enabled' is missing" in problems
    assert "subscription_update.products: required attribute 'prices' is missing" in problems
    assert "stripe_webhook_endpoint.hook: 'events' is not an argument here" in problems
    assert "required argument 'enabled_events' is missing" in problems
    # A write-only argument is never kept, so nothing can refer to it.
    assert "stripe_price exports no attribute 'transfer_lookup_key'" in problems
