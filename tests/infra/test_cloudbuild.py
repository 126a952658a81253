"""cloudbuild.yaml: the tests gate the deployment, which runs as the deployer with remote state."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.infra import REPO


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
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
    assert "-out=tfplan" in by_id["plan"]["args"]
    assert "apply -input=false tfplan" in step_text(by_id["apply"])
    # No step waits for another out of order: Cloud Build runs them one after another.
    assert not any("waitFor" in step for step in steps)


def test_the_build_runs_as_the_deployer_account() -> None:
    config = load()
    assert config["serviceAccount"].startswith("projects/$PROJECT_ID/serviceAccounts/${_DEPLOYER}@")
    # Required by Cloud Build for a user-specified service account.
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_the_test_image_has_the_emulators() -> None:
    config = load()
    assert config["substitutions"]["_TEST_IMAGE"].endswith("google-cloud-cli:emulators")
    test = next(step for step in config["steps"] if step["id"] == "test")
    assert test["name"] == "${_TEST_IMAGE}"
