"""The pipeline cannot be taken over: cloudbuild.yaml deploys, cloudbuild-pr.yaml only checks.

A pull request controls the build files it brings, so what keeps it from applying or reading a
secret is the account its trigger runs it as (infra/bootstrap, checked by test_pipeline.py).
These check the files themselves: the deploy applies the plan it made, on the deploy branch or a
release tag only; the pull-request build holds no secret, no apply and no remote state.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.support.infra import REPO


def load(name: str = "cloudbuild.yaml") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / name).read_text())
    return data


def step_text(step: dict[str, Any]) -> str:
    return " ".join([str(step.get("entrypoint", "")), *map(str, step.get("args", []))])


def test_tests_run_before_terraform_and_apply_uses_the_reviewed_plan() -> None:
    steps = load()["steps"]
    ids = [step["id"] for step in steps]
    assert ids.index("test") < ids.index("init") < ids.index("plan") < ids.index("apply")
    by_id = {step["id"]: step for step in steps}
    assert "make test" in step_text(by_id["test"])
    assert "-backend-config=bucket=${_TF_STATE_BUCKET}" in by_id["init"]["args"]
    # One state per Stripe mode, and that mode's tfvars.
    assert "-backend-config=prefix=billing/${_MODE}" in by_id["init"]["args"]
    assert "-var-file=environments/${_MODE}.tfvars" in by_id["plan"]["args"]
    assert "-out=tfplan" in by_id["plan"]["args"]
    assert "apply -input=false tfplan" in step_text(by_id["apply"])
    # No step waits for another out of order: Cloud Build runs them one after another.
    assert not any("waitFor" in step for step in steps)


def test_apply_refuses_anything_but_the_deploy_branch_or_a_release_tag() -> None:
    apply = next(step for step in load()["steps"] if step["id"] == "apply")
    script = step_text(apply)
    guard = script.index('if [ "$BRANCH_NAME" != "${_DEPLOY_BRANCH_NAME}" ] && [ -z "$TAG_NAME" ]')
    assert guard < script.index("exit 1") < script.index("terraform -chdir=infra apply")


def test_only_plan_and_apply_see_the_stripe_key() -> None:
    config = load()
    [secret] = config["availableSecrets"]["secretManager"]
    assert secret["env"] == "TF_VAR_stripe_api_key"
    assert secret["versionName"].endswith("/secrets/${_STRIPE_KEY_SECRET}/versions/latest")
    with_key = {step["id"] for step in config["steps"] if step.get("secretEnv")}
    assert with_key == {"plan", "apply"}


def test_the_account_is_the_triggers_not_the_files() -> None:
    # A build file that named an account would be a request from whoever edits it; the
    # triggers (infra/bootstrap) decide. A user-specified account needs Cloud Logging.
    for name in ("cloudbuild.yaml", "cloudbuild-pr.yaml"):
        config = load(name)
        assert "serviceAccount" not in config, name
        assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY", name


def test_the_pull_request_build_holds_no_secret_no_apply_and_no_state() -> None:
    config = load("cloudbuild-pr.yaml")
    text = (REPO / "cloudbuild-pr.yaml").read_text()
    assert "availableSecrets" not in config
    assert not any("secretEnv" in step for step in config["steps"])
    scripts = " ".join(step_text(step) for step in config["steps"])
    assert not re.search(r"terraform[^\n]*\bapply\b", scripts)
    assert "gcloud secrets" not in text
    assert "gcloud storage" not in text
    assert "_TF_STATE_BUCKET" not in text
    plan = next(step for step in config["steps"] if step["id"] == "plan")
    # The GCS backend is replaced by a local, empty state, and the Stripe key is a placeholder.
    assert 'backend "local"' in step_text(plan)
    assert "pr_backend_override.tf" in step_text(plan)
    assert plan["env"] == ["TF_VAR_stripe_api_key=rk_${_MODE}_pullrequestplanhasnokey"]
    assert "make test" in step_text(next(s for s in config["steps"] if s["id"] == "test"))


def test_the_test_image_has_the_emulators() -> None:
    for name in ("cloudbuild.yaml", "cloudbuild-pr.yaml"):
        config = load(name)
        assert config["substitutions"]["_TEST_IMAGE"].endswith("google-cloud-cli:emulators")
        test = next(step for step in config["steps"] if step["id"] == "test")
        assert test["name"] == "${_TEST_IMAGE}"
