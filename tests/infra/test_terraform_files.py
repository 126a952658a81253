"""Offline checks of infra/ as files: formatting, the manifest, settings, local-only values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import hcl2

from app import registry
from billing.config import BillingSettings
from mailer.config import MailSettings
from tests.support.infra import FUNCTIONS_JSON, INFRA, REPO, load_tf, run_terraform, tf_files

LOCAL_ONLY = (
    "FIREBASE_AUTH_EMULATOR_HOST",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "STRIPE_API_BASE",
    "_EMULATOR_HOST",
)


def test_terraform_is_formatted() -> None:
    done = run_terraform("fmt", "-check", "-recursive", "-diff", "-no-color", str(INFRA), cwd=REPO)
    assert done.returncode == 0, (
        f"run `terraform fmt -recursive infra`:\n{done.stdout}{done.stderr}"
    )


def test_functions_json_is_generated_from_the_registry() -> None:
    # Renaming, adding or changing a function in the registry without `make infra-manifest`
    # would deploy the old list: this fails until the file is regenerated.
    assert FUNCTIONS_JSON.read_text() == registry.render_manifest(), "run `make infra-manifest`"


def test_terraform_reads_the_function_list_only_from_the_manifest() -> None:
    for path in tf_files():
        text = path.read_text()
        for fn in registry.FUNCTIONS:
            assert f'"{fn.deployed_name}"' not in text, f"{path.name} names {fn.deployed_name}"
    plan = (INFRA / "plan.tf").read_text()
    assert 'jsondecode(file("${path.module}/functions.json"))' in plan


def test_timeout_defaults_are_the_codes_defaults() -> None:
    # The functions' timeout is computed from these; the code falls back to its own defaults.
    variables = load_tf(INFRA / "variables.tf")["variable"]
    spec = next(v['"upstream_timeouts"'] for v in variables if '"upstream_timeouts"' in v)
    fields = spec["type"]
    found = dict(re.findall(r"(\w+)\s*=\s*optional\(number,\s*([\d.]+)\)", str(fields)))
    assert set(found) == {
        "stripe_max_network_retries",
        "stripe_connect_timeout",
        "stripe_read_timeout",
        "firestore_timeout_seconds",
    }
    for name, default in found.items():
        assert float(default) == BillingSettings.model_fields[name].default, name


def test_settings_rendered_by_terraform_are_settings() -> None:
    plan = (INFRA / "plan.tf").read_text()
    start = plan.index("settings_env_all = {")
    block = plan[start : plan.index("\n  }\n", start)]
    names = re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", block, flags=re.MULTILINE)
    assert names
    fields = BillingSettings.model_fields | MailSettings.model_fields
    for name in names:
        assert name.lower() in fields, name


def values_outside_guards(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a parsed file, except in variable validations and the guard list."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("validation", "local_only_settings") or key.startswith("__"):
                continue
            yield from values_outside_guards(value, f"{path}.{key.strip(chr(34))}")
            yield path, key
    elif isinstance(node, list):
        for item in node:
            yield from values_outside_guards(item, path)
    else:
        yield path, str(node)


def test_local_only_settings_are_named_only_by_the_guards_refusing_them() -> None:
    # Nothing deployed may carry an emulator host or the Stripe stand-in's address: the only
    # places Terraform may name them are the validations and the module's check that refuse them.
    for path in tf_files():
        for where, value in values_outside_guards(load_tf(path)):
            for name in LOCAL_ONLY:
                assert name not in value, f"{path.relative_to(REPO)}: {where}: {value}"
    for path in (*sorted((INFRA / "environments").glob("*.tfvars")), FUNCTIONS_JSON):
        for name in LOCAL_ONLY:
            assert name not in path.read_text(), f"{path.relative_to(REPO)} names {name}"


def test_the_local_only_scan_finds_a_deployed_emulator_host() -> None:
    sample = 'resource "x" "y" {\n  env = { FIREBASE_AUTH_EMULATOR_HOST = "127.0.0.1:9099" }\n}\n'
    found = [value for _, value in values_outside_guards(hcl2.loads(sample))]
    assert "FIREBASE_AUTH_EMULATOR_HOST" in found


def test_every_checkov_skip_says_why() -> None:
    skips = 0
    for path in tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                skips += 1
                assert re.search(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{20,}", line), line
    assert skips > 0
