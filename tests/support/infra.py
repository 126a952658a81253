"""Helpers for the offline checks of infra/: run terraform, parse the Terraform, evaluate plan.tf.

No Google API is reachable and the google provider cannot be downloaded, so what can be run is
Terraform itself on the provider-free part of the configuration: ``infra/plan.tf`` (what is
deployed with which settings, secrets, sizing and roles) and ``infra/modules/function-plan``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FUNCTIONS_JSON = INFRA / "functions.json"
SCHEMA = INFRA / "schema" / "provider-schema.json"
STRIPE_SCHEMA = INFRA / "schema" / "stripe-provider-schema.json"

# What plan.tf computes, exposed for the tests (the real outputs.tf needs the provider).
TEST_OUTPUTS = """
output "functions" { value = local.functions }
output "env" { value = local.env }
output "public" { value = keys(local.public_functions) }
output "private" { value = keys(local.private_functions) }
output "event" { value = keys(local.event_functions) }
output "notification_pushed" { value = keys(local.notification_functions) }
output "usage_pushed" { value = keys(local.usage_functions) }
output "job" { value = keys(local.job_functions) }
output "secret_bindings" { value = module.plan.secret_bindings }
output "secrets" { value = module.plan.secrets }
output "secret_access" { value = module.plan.secret_access }
output "secret_ids" { value = module.plan.secret_ids }
output "stripe_worst_case_seconds" { value = module.plan.stripe_worst_case_seconds }
output "http_timeout_seconds" { value = module.plan.http_timeout_seconds }
output "source_files" { value = local.source_files }
output "source_build_problems" { value = local.source_build_problems }
output "webhook_url" { value = local.webhook_url }
output "offered_prices" { value = module.catalog.offered_prices }
"""

# What stripe.tf computes from the Stripe provider's resources (ids Stripe assigns), standing in
# for it where the provider cannot run: each offered price's id is "price_stub_<lookup key>".
STRIPE_STUB = """
locals {
  offered_price_ids       = [for key in module.catalog.offered_prices : "price_stub_${key}"]
  metered_price_ids = {
    for key, price in module.catalog.prices : "price_stub_${key}" => [
      for metered in price.metered_prices : "price_stub_${metered}"
    ] if length(price.metered_prices) > 0
  }
  portal_configuration_id = "bpc_stub"
}
"""

# The variables an operator must set (terraform.tfvars); everything else keeps its default.
BASE_VARS: dict[str, Any] = {
    "project_id": "demo-billing",
    "stripe": {"mode": "test"},
    "stripe_api_key": "rk_test_offlinecheck",
    "settings": {
        "allowed_origins": ["https://app.example.com"],
        "checkout_success_url": "https://app.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}",
        "checkout_cancel_url": "https://app.example.com/billing",
        "portal_return_url": "https://app.example.com/account",
    },
    "mail": {
        "smtp_host": "smtp.example.com",
        "mail_from": "billing@example.com",
        "product_name": "Example",
        "app_url": "https://app.example.com",
    },
}


def terraform() -> str:
    found = shutil.which("terraform")
    assert found, "terraform is not on PATH: the infra checks need Terraform >= 1.5 (see README)"
    return found


def terraform_env() -> dict[str, str]:
    # CHECKPOINT_DISABLE: no version check over the network; an empty CLI config: no warning
    # about a missing ~/.terraformrc, and no plugin cache or credentials from the machine.
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    env["TF_CLI_CONFIG_FILE"] = os.devnull
    return env


def run_terraform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - a fixed binary with our own arguments
        [terraform(), *args],
        cwd=cwd,
        env=terraform_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tf_files() -> list[Path]:
    return sorted(path for path in INFRA.rglob("*.tf") if ".terraform" not in path.parts)


@functools.cache
def load_tf(path: Path) -> dict[str, Any]:
    """The parsed file (python-hcl2's dict form); cached, so callers must not change it."""
    return dict(hcl2.loads(path.read_text()))


def unquote(label: str) -> str:
    return label.strip('"')


def real_manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FUNCTIONS_JSON.read_text())
    return data


def every_kind_manifest() -> dict[str, Any]:
    """The real manifest plus one function of each kind the registry does not have yet."""
    manifest = real_manifest()
    functions = manifest["functions"]
    functions.setdefault(
        "stripe-webhook",
        {
            "entry_point": "stripe_webhook",
            "kind": "webhook",
            "signature": "http",
            "public": True,
            "secrets": ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRETS"],
            "settings": [],
        },
    )
    functions.setdefault(
        "send-email",
        {
            "entry_point": "send_email",
            "kind": "event",
            "signature": "cloudevent",
            "public": False,
            "secrets": [],
            "optional_secrets": ["SMTP_PASSWORD"],
            "settings": [],
        },
    )
    functions.setdefault(
        "reconcile",
        {
            "entry_point": "reconcile",
            "kind": "job",
            "signature": "http",
            "public": False,
            "secrets": ["STRIPE_SECRET_KEY"],
            "settings": [],
        },
    )
    return manifest


@dataclass
class Evaluation:
    ok: bool
    outputs: dict[str, Any]
    error: str


def evaluate(
    workdir: Path,
    manifest: dict[str, Any],
    variables: dict[str, Any],
    tfvars: Path | None = None,
    prepare: Callable[[Path], None] | None = None,
) -> Evaluation:
    """Runs infra/plan.tf (with variables.tf and the modules) on ``manifest`` and ``variables``
    (or on a tfvars file, with ``variables`` on top).

    Lays out ``workdir`` like the repository (infra/ beside functions/ and requirements.txt),
    with copies of the real files, so ``path.module`` resolves as it does in a deployment;
    ``prepare`` is then given that ``infra/`` folder (e.g. to stage the source in it).
    """
    infra = workdir / "infra"
    infra.mkdir(parents=True)
    for name in ("variables.tf", "plan.tf", "state.tf"):
        shutil.copy(INFRA / name, infra / name)
    shutil.copytree(INFRA / "modules", infra / "modules")
    (workdir / "functions").symlink_to(REPO / "functions")
    (workdir / "requirements.txt").symlink_to(REPO / "requirements.txt")
    (infra / "outputs_test.tf").write_text(TEST_OUTPUTS)
    (infra / "stripe_stub.tf").write_text(STRIPE_STUB)
    (infra / "functions.json").write_text(json.dumps(manifest))
    if tfvars is not None:
        shutil.copy(tfvars, infra / "terraform.tfvars")
    (infra / "terraform.tfvars.json").write_text(json.dumps(variables))
    if prepare is not None:
        prepare(infra)
    for step in (
        ("init", "-input=false", "-no-color"),
        ("apply", "-auto-approve", "-input=false", "-no-color"),
    ):
        done = run_terraform(*step, cwd=infra)
        if done.returncode != 0:
            # Terraform wraps its messages: one line, single spaces, so tests can match phrases.
            return Evaluation(False, {}, " ".join((done.stderr + done.stdout).split()))
    shown = run_terraform("output", "-json", "-no-color", cwd=infra)
    assert shown.returncode == 0, shown.stderr
    outputs = {name: value["value"] for name, value in json.loads(shown.stdout).items()}
    return Evaluation(True, outputs, "")


CATALOG_MODULE = INFRA / "modules" / "stripe-catalog"


def evaluate_catalog(workdir: Path, catalog: dict[str, Any]) -> Evaluation:
    """Runs modules/stripe-catalog on ``catalog``: the maps infra/stripe.tf makes resources of."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    (workdir / "main.tf").write_text(
        f"""
module "catalog" {{
  source  = "{CATALOG_MODULE}"
  catalog = jsondecode(file("${{path.module}}/catalog.json"))
}}
output "catalog" {{ value = module.catalog }}
"""
    )
    for step in (
        ("init", "-input=false", "-no-color"),
        ("apply", "-auto-approve", "-input=false", "-no-color"),
    ):
        done = run_terraform(*step, cwd=workdir)
        if done.returncode != 0:
            return Evaluation(False, {}, " ".join((done.stderr + done.stdout).split()))
    shown = run_terraform("output", "-json", "-no-color", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    return Evaluation(True, json.loads(shown.stdout)["catalog"]["value"], "")
