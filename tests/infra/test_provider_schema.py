"""Every block of infra/*.tf against the google (and archive) provider's schema, offline.

The schema comes from the cdktf prebuilt provider packages' .jsii manifests (google 6.50.0),
extracted by `make infra-schema` into infra/schema/provider-schema.json.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest

from tests.support.infra import INFRA, SCHEMA, load_tf, tf_files
from tests.support.schema_check import check_documents, coverage


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text())
    return data


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
    assert types >= 20
    assert names > 200


def test_the_extract_is_the_provider_version_we_bound(schema: dict[str, Any]) -> None:
    assert any("hashicorp/google 6.50.0" in source for source in schema["sources"])
    versions = (INFRA / "versions.tf").read_text()
    assert '">= 6.0, < 8.0"' in versions


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
