"""A state belongs to one project and one Stripe mode (modules/state-identity).

The backend's bucket and prefix are given at `terraform init`, so nothing in the code ties a state
to the tfvars: the live tfvars pointed at the test state (or the reverse, or infra/ at the
bootstrap's state) would plan every resource of one project replaced by the other's. The first
apply writes "which configuration, project and mode" into the state; every later plan whose
tfvars disagree fails naming both. Run here with Terraform itself (terraform_data needs no
provider), on local state, as a deploy would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import docs as markdown
from tests.support.infra import (
    BASE_VARS,
    INFRA,
    REPO,
    evaluate,
    load_tf,
    real_manifest,
    run_terraform,
)

MODULE = INFRA / "modules" / "state-identity"
DEPLOY = REPO / "docs" / "deploy.md"


# A live-mode placeholder, not a key: built from parts so no secret scanner reads it as one.
LIVE_PLACEHOLDER = "rk_" + "live_" + "placeholder-not-a-key"


def one_line(done: Any) -> str:
    return " ".join((done.stderr + done.stdout).split())


def module_root(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf").write_text(
        f"""
variable "configuration" {{ type = string }}
variable "project_id" {{ type = string }}
variable "mode" {{ type = string }}
module "state_identity" {{
  source        = "{MODULE}"
  configuration = var.configuration
  project_id    = var.project_id
  mode          = var.mode
}}
"""
    )
    done = run_terraform("init", "-input=false", "-no-color", cwd=workdir)
    assert done.returncode == 0, one_line(done)
    return workdir


def tfvars(configuration: str, project: str, mode: str) -> list[str]:
    return [
        f"-var=configuration={configuration}",
        f"-var=project_id={project}",
        f"-var=mode={mode}",
    ]


@pytest.fixture(scope="module")
def test_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state whose first apply was the deployment of my-billing-test in test mode."""
    root = module_root(tmp_path_factory.mktemp("state") / "root")
    done = run_terraform(
        "apply", "-auto-approve", "-input=false", "-no-color",
        *tfvars("deployment", "my-billing-test", "test"), cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, one_line(done)
    return root


def plan(root: Path, configuration: str, project: str, mode: str) -> Any:
    return run_terraform(
        "plan", "-input=false", "-no-color", "-detailed-exitcode", "-lock=false",
        *tfvars(configuration, project, mode), cwd=root,
    )  # fmt: skip


def test_the_states_own_tfvars_plan_no_change(test_state: Path) -> None:
    done = plan(test_state, "deployment", "my-billing-test", "test")
    assert done.returncode == 0, one_line(done)  # 0: no changes


@pytest.mark.parametrize(
    ("configuration", "project", "mode"),
    [
        ("deployment", "my-billing-live", "live"),  # the live tfvars on the test state
        ("deployment", "my-billing-test", "live"),  # the mode alone differs
        ("deployment", "other-billing", "test"),  # the project alone differs
        ("bootstrap", "my-billing-test", "test"),  # infra/bootstrap pointed at infra/'s state
    ],
)
def test_other_tfvars_on_this_state_fail_the_plan_naming_both(
    test_state: Path, configuration: str, project: str, mode: str
) -> None:
    done = plan(test_state, configuration, project, mode)
    assert done.returncode == 1, one_line(done)
    message = one_line(done)
    assert "Resource postcondition failed" in message, message
    assert (
        "This Terraform state is the deployment of my-billing-test in Stripe test mode" in message
    )
    assert f"the tfvars are for the {configuration} of {project} in Stripe {mode} mode" in message
    # The stored identity is unchanged by the refused plan.
    again = plan(test_state, "deployment", "my-billing-test", "test")
    assert again.returncode == 0, one_line(again)


def test_the_deploy_guide_quotes_the_refusal_as_terraform_gives_it(test_state: Path) -> None:
    [quoted] = [
        block.code
        for block in markdown.blocks(DEPLOY)
        if block.language == "text" and "Resource postcondition failed" in block.code
    ]
    message = one_line(plan(test_state, "deployment", "my-billing-live", "live"))
    heading, _, text = quoted.partition("\n")
    assert heading in message, message
    assert " ".join(text.split()) in message, message


def test_a_refresh_only_plan_only_warns_as_the_guide_says(test_state: Path) -> None:
    # The guide (step 2) says where the check does not hold: a refresh-only run reports the
    # mismatch as a warning and goes on. Pinned so the guide changes when Terraform does.
    done = run_terraform(
        "plan", "-refresh-only", "-input=false", "-no-color", "-lock=false",
        *tfvars("deployment", "my-billing-live", "live"), cwd=test_state,
    )  # fmt: skip
    message = one_line(done)
    assert done.returncode == 0, message
    assert "Warning: Resource postcondition failed" in message, message
    guide = " ".join(DEPLOY.read_text().split())
    assert "a `-refresh-only` plan or apply reports it as a warning and goes on" in guide
    assert "a `-target` that leaves `module.state_identity` out skips it" in guide


def test_the_identity_cannot_be_destroyed(test_state: Path) -> None:
    done = run_terraform(
        "plan", "-destroy", "-input=false", "-no-color", "-lock=false",
        *tfvars("deployment", "my-billing-test", "test"), cwd=test_state,
    )  # fmt: skip
    assert done.returncode == 1, one_line(done)
    assert "lifecycle.prevent_destroy" in one_line(done)


def test_the_deployment_writes_its_project_and_mode_and_refuses_the_other_modes_tfvars(
    tmp_path: Path,
) -> None:
    # The real infra/ root (plan.tf, variables.tf, state.tf) applied with the test tfvars, then
    # planned with the live mode's: refused by the state's identity.
    done = evaluate(tmp_path, real_manifest(), BASE_VARS)
    assert done.ok, done.error
    root = tmp_path / "infra"
    live = json.loads(json.dumps(BASE_VARS))
    live |= {"project_id": "demo-billing-live", "stripe_api_key": LIVE_PLACEHOLDER}
    live["stripe"] = {"mode": "live"}
    (root / "terraform.tfvars.json").write_text(json.dumps(live))
    refused = run_terraform("plan", "-input=false", "-no-color", "-lock=false", cwd=root)
    message = one_line(refused)
    assert refused.returncode == 1, message
    assert (
        "This Terraform state is the deployment of demo-billing in Stripe test mode, but the "
        "tfvars are for the deployment of demo-billing-live in Stripe live mode"
    ) in message, message


def test_the_bootstrap_keeps_its_own_identity() -> None:
    [module] = [
        entry['"state_identity"']
        for entry in load_tf(INFRA / "bootstrap" / "main.tf").get("module", [])
        if '"state_identity"' in entry
    ]
    assert module["source"] == '"../modules/state-identity"'
    assert module["configuration"] == '"bootstrap"'
    assert module["project_id"] == "${var.project_id}"
    assert module["mode"] == "${var.mode}"
    [deployment] = [
        entry['"state_identity"']
        for entry in load_tf(INFRA / "state.tf").get("module", [])
        if '"state_identity"' in entry
    ]
    assert deployment["configuration"] == '"deployment"'
    assert deployment["project_id"] == "${var.project_id}"
    assert deployment["mode"] == "${var.stripe.mode}"
