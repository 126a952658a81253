"""infra/bootstrap: who runs which build, with which rights (read from the Terraform).

Pull-request builds run as the planner: it can read the project's metadata and write its build
logs; it holds no role that changes anything, reads a secret or the state, or acts as another
account. Deploys run as the deployer, from the deploy branch or release tags only; its roles
are the ones apply needs, and the one that could grant roles is limited by a condition to the
roles infra/ grants. It acts as the deployment's own service accounts, which the bootstrap
creates, one grant per account, and as no other account of the project.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.infra import INFRA, load_tf, tf_files

BOOTSTRAP = INFRA / "bootstrap"

# Roles that let an account read what it should not (secret values, data, state) or change
# anything, or become someone else.
FORBIDDEN_FOR_PLANNER = re.compile(
    r"owner|editor|admin|Admin|writer|Writer|secretAccessor|objectViewer|objectAdmin|"
    r"serviceAccountUser|serviceAccountTokenCreator|workloadIdentityUser|datastore\.(user|viewer)|"
    r"builds\.builder|viewer$"
)


def bootstrap_resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(BOOTSTRAP.glob("*.tf")):
        for entry in load_tf(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    if not name.startswith("__"):
                        found[(rtype.strip('"'), name.strip('"'))] = body
    return found


def bootstrap_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in load_tf(BOOTSTRAP / "main.tf").get("locals", []):
        merged |= {k: v for k, v in entry.items() if not k.startswith("__")}
    return merged


# Roles that let the holder act as, or mint tokens for, service accounts (or change who may).
ACTS_AS = re.compile(r"iam\.serviceAccount|iam\.workloadIdentityUser|roles/(owner|editor)\b")
PROJECT_GRANTS = (
    "google_project_iam_member",
    "google_project_iam_binding",
    "google_project_iam_policy",
)


def grants_to(account: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource type, role expression, body) of every grant whose member is ``account``."""
    member = f"${{google_service_account.{account}.member}}"
    return [
        (rtype, str(body.get("role")), body)
        for (rtype, _), body in bootstrap_resources().items()
        if body.get("member") == member
    ]


def triggers() -> dict[str, dict[str, Any]]:
    return {
        name: body
        for (rtype, name), body in bootstrap_resources().items()
        if rtype == "google_cloudbuild_trigger"
    }


def test_pull_requests_build_as_the_planner_with_the_checks_only_file() -> None:
    pull = triggers()["pull_request"]
    assert pull["service_account"] == "${google_service_account.planner.id}"
    assert pull["filename"] == '"cloudbuild-pr.yaml"'
    event = pull["repository_event_config"][0]
    assert "pull_request" in event
    assert "push" not in event
    assert event["pull_request"][0]["comment_control"] == (
        '"COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"'
    )
    # No substitution points it at the state or a secret.
    assert set(pull.get("substitutions", {})) == {"_MODE"}


def test_only_pushes_to_main_or_release_tags_deploy_as_the_deployer() -> None:
    deploy = triggers()["deploy"]
    assert deploy["service_account"] == "${google_service_account.deployer.id}"
    assert deploy["filename"] == '"cloudbuild.yaml"'
    event = deploy["repository_event_config"][0]
    assert "pull_request" not in event
    push = event["push"][0]
    assert push["branch"] == '${var.mode == "test" ? "^main$" : null}'
    assert push["tag"] == '${var.mode == "live" ? var.live_release_tags : null}'
    assert deploy["approval_config"][0]["approval_required"] == '${var.mode == "live"}'
    # Off until the first apply by hand is done (docs/deploy.md, step 7).
    assert deploy["disabled"] == "${!var.deploys_enabled}"
    [variables] = [
        entry['"deploys_enabled"']
        for entry in load_tf(BOOTSTRAP / "variables.tf")["variable"]
        if '"deploys_enabled"' in entry
    ]
    assert variables["default"] is False
    # Every trigger is one of these two.
    assert set(triggers()) == {"deploy", "pull_request"}


def test_the_planner_can_read_but_not_change_and_reaches_no_secret() -> None:
    planner_roles = set(bootstrap_locals()["planner_roles"])
    assert planner_roles == {'"roles/browser"', '"roles/logging.logWriter"'}
    grants = grants_to("planner")
    assert [rtype for rtype, _, _ in grants] == ["google_project_iam_member"]
    assert grants[0][1] == "${each.key}"
    for role in planner_roles:
        name = role.strip('"').removeprefix("roles/")
        if name != "logging.logWriter":  # writing its own build log changes nothing
            assert not FORBIDDEN_FOR_PLANNER.search(name), role
    # Nothing else anywhere in infra/ names the planner: no bucket (state), no secret, no
    # account it could act as.
    for path in tf_files():
        text = path.read_text()
        mentions = len(re.findall(r"google_service_account\.planner\.", text))
        if path.parent != BOOTSTRAP:
            assert mentions == 0, path
    main = (BOOTSTRAP / "main.tf").read_text()
    assert main.count("google_service_account.planner.member") == 1


# Anything that may name the planner account: the resource, its email, its account id.
PLANNER = re.compile(r"planner", re.IGNORECASE)


def iam_entries_naming_the_planner() -> list[tuple[str, str, str, Any]]:
    """(file, resource type, name, role) of every IAM grant anywhere in infra/ (bootstrap and
    modules included) whose member, members, policy or binding names the planner, however it is
    written (``.member``, ``"serviceAccount:${...email}"``, a literal address, a policy
    document), a ``for_each`` over a role map expanded into one entry per role."""
    found = []
    for path in tf_files():
        parsed = load_tf(path)
        for entry in [*parsed.get("resource", []), *parsed.get("data", [])]:
            for rtype, named in entry.items():
                rtype = rtype.strip('"')
                if "_iam_" not in rtype and rtype != "google_iam_policy":
                    continue
                for name, body in named.items():
                    if name.startswith("__") or not isinstance(body, dict):
                        continue
                    who = {k: v for k, v in body.items() if k not in ("description", "title")}
                    if not PLANNER.search(str(who)):
                        continue
                    role = str(body.get("role", body.get("binding", body.get("policy_data"))))
                    if role == "${each.key}" and body.get("for_each") == "${local.planner_roles}":
                        for key in bootstrap_locals()["planner_roles"]:
                            found.append((path.name, rtype, name.strip('"'), key.strip('"')))
                    else:
                        found.append((path.name, rtype, name.strip('"'), role.strip('"')))
    return found


def test_every_grant_to_the_planner_is_one_of_its_allowed_roles() -> None:
    # However a grant is written, and wherever in infra/: the planner holds exactly the roles
    # planner_roles lists, through the one grant that iterates over them.
    grants = iam_entries_naming_the_planner()
    assert grants == [
        ("main.tf", "google_project_iam_member", "planner", "roles/browser"),
        ("main.tf", "google_project_iam_member", "planner", "roles/logging.logWriter"),
    ]


def test_the_planner_check_finds_a_grant_written_another_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "extra.tf"
    extra.write_text(
        'resource "google_project_iam_member" "x" {\n'
        "  project = var.project_id\n"
        '  role    = "roles/secretmanager.secretAccessor"\n'
        '  member  = "serviceAccount:${google_service_account.planner.email}"\n'
        "}\n"
        'resource "google_storage_bucket_iam_binding" "y" {\n'
        "  bucket  = var.state_bucket\n"
        '  role    = "roles/storage.objectViewer"\n'
        '  members = ["serviceAccount:billing-planner@demo.iam.gserviceaccount.com"]\n'
        "}\n"
    )
    files = [*tf_files(), extra]
    monkeypatch.setattr(f"{__name__}.tf_files", lambda: files)
    roles = {role for _, _, _, role in iam_entries_naming_the_planner()}
    assert {"roles/secretmanager.secretAccessor", "roles/storage.objectViewer"} <= roles


def test_the_check_flags_a_planner_that_could_read_a_secret() -> None:
    for role in ("secretmanager.secretAccessor", "storage.objectViewer", "iam.serviceAccountUser",
                 "editor", "viewer", "cloudbuild.builds.builder", "datastore.viewer"):  # fmt: skip
        assert FORBIDDEN_FOR_PLANNER.search(role), role


def test_the_deployer_cannot_grant_itself_more() -> None:
    roles = {key.strip('"') for key in bootstrap_locals()["deployer_roles"]}
    for role in roles:
        assert role not in {"roles/owner", "roles/editor", "roles/iam.securityAdmin"}, role
        assert "projectIamAdmin" not in role, role
        assert "secretmanager" not in role, role
        assert "TokenCreator" not in role, role
    grants = bootstrap_resources()
    limited = grants[("google_project_iam_member", "deployer_grants")]
    assert limited["role"] == '"roles/resourcemanager.projectIamAdmin"'
    expression = limited["condition"][0]["expression"]
    assert "iam.googleapis.com/modifiedGrantsByRole" in expression
    assert ".hasOnly(${jsonencode(local.grantable_roles)})" in expression


# What the deployer may do to a secret: add the webhook signing secret's versions (and read
# their metadata, list and disable them). Never read a value it was not given, never change a
# secret's IAM (setIamPolicy would let it grant itself or anyone every value).
DEPLOYER_SECRET_PERMISSIONS = {
    "secretmanager.versions.add",
    "secretmanager.versions.disable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
}
SECRET_IAM_RESOURCES = (
    "google_secret_manager_secret_iam_member",
    "google_secret_manager_secret_iam_binding",
    "google_secret_manager_secret_iam_policy",
)


def custom_role_permissions() -> dict[str, set[str]]:
    """``${google_project_iam_custom_role.NAME.id}`` -> its permissions, for every custom role."""
    return {
        f"${{google_project_iam_custom_role.{name}.id}}": {
            permission.strip('"') for permission in body["permissions"]
        }
        for (rtype, name), body in bootstrap_resources().items()
        if rtype == "google_project_iam_custom_role"
    }


def deployer_role_grants() -> list[tuple[str, str, dict[str, Any]]]:
    """(resource, role, body) of every grant to the deployer, the for_each over deployer_roles
    expanded into one entry per role."""
    found = []
    for rtype, role, body in grants_to("deployer"):
        if role == "${each.key}":
            assert body["for_each"] == "${local.deployer_roles}"
            found += [(rtype, key.strip('"'), body) for key in bootstrap_locals()["deployer_roles"]]
        else:
            found.append((rtype, role.strip('"'), body))
    return found


def test_no_deployer_role_can_change_a_secrets_iam_or_read_a_functions_secret() -> None:
    customs = custom_role_permissions()
    secret_grants = []
    for rtype, role, body in deployer_role_grants():
        if role in customs:
            secret_permissions = {p for p in customs[role] if p.startswith("secretmanager.")}
            assert "secretmanager.secrets.setIamPolicy" not in secret_permissions, (rtype, role)
            assert secret_permissions <= DEPLOYER_SECRET_PERMISSIONS, (rtype, role)
            assert rtype == "google_secret_manager_secret_iam_member", (rtype, role)
        elif rtype in PROJECT_GRANTS:
            # A predefined project role that could set a secret's IAM or read a value.
            assert not re.search(
                r"secretmanager|roles/(owner|editor)$|securityAdmin|iam\.securityAdmin", role
            ), (rtype, role)
        if rtype in SECRET_IAM_RESOURCES:
            secret_grants.append((body["secret_id"], role))
    # On a secret, exactly: the webhook signing secret's versions, and the Stripe key Terraform
    # manages Stripe with (read, so the deploy build can pass it to the stripe provider).
    [writer] = [role for role, permissions in customs.items() if permissions]
    assert sorted(secret_grants) == sorted([
        ('${google_secret_manager_secret.secret["STRIPE_WEBHOOK_SECRETS"].id}', writer),
        ("${google_secret_manager_secret.stripe_terraform_key.id}", "roles/secretmanager.secretAccessor"),
    ])  # fmt: skip


def test_the_bootstrap_makes_the_secrets_and_each_functions_read_grant() -> None:
    grants = bootstrap_resources()
    secrets = grants[("google_secret_manager_secret", "secret")]
    assert secrets["for_each"] == "${module.account_ids.secrets}"
    access = grants[("google_secret_manager_secret_iam_member", "access")]
    assert access["for_each"] == "${module.account_ids.secret_access}"
    assert access["role"] == '"roles/secretmanager.secretAccessor"'
    assert access["member"] == "${google_service_account.function[each.value.function].member}"
    assert access["secret_id"] == "${google_secret_manager_secret.secret[each.value.secret].id}"
    # infra/ (applied by the deployer) neither creates a secret nor touches a secret's IAM.
    for path in tf_files():
        if path.parent == BOOTSTRAP:
            continue
        for entry in load_tf(path).get("resource", []):
            for rtype in entry:
                assert rtype.strip('"') not in (
                    *SECRET_IAM_RESOURCES,
                    "google_secret_manager_secret",
                ), (path, rtype)


def test_the_deployer_may_grant_exactly_the_roles_infra_grants() -> None:
    granted = set()
    for path in tf_files():
        if path.parent == BOOTSTRAP:
            continue
        for entry in load_tf(path).get("resource", []):
            for body in entry.get('"google_project_iam_member"', {}).values():
                if isinstance(body, dict):
                    granted.add(body["role"].strip('"'))
    grantable = {role.strip('"') for role in bootstrap_locals()["grantable_roles"]}
    assert granted == grantable


def test_only_the_deployer_reads_the_stripe_key_and_the_state() -> None:
    grants = bootstrap_resources()
    key = grants[("google_secret_manager_secret_iam_member", "deployer_stripe_key")]
    assert key["member"] == "${google_service_account.deployer.member}"
    assert key["role"] == '"roles/secretmanager.secretAccessor"'
    state = grants[("google_storage_bucket_iam_member", "deployer_state")]
    assert state["member"] == "${google_service_account.deployer.member}"
    # Besides the functions' own reads (one grant per function and secret), the deployer is
    # the only account given a secret or the state.
    accessors = sorted(
        name
        for (rtype, name), body in grants.items()
        if rtype in ("google_secret_manager_secret_iam_member", "google_storage_bucket_iam_member")
        and body["member"] != "${google_service_account.function[each.value.function].member}"
    )
    assert accessors == ["deployer_state", "deployer_stripe_key", "deployer_webhook_secret"]
    for (rtype, name), body in grants.items():
        if name in accessors:
            assert body["member"] == "${google_service_account.deployer.member}", (rtype, name)


def test_every_deployer_role_says_why() -> None:
    for role, reason in bootstrap_locals()["deployer_roles"].items():
        assert len(reason.strip('"')) > 15, role


def test_the_deployer_acts_as_no_account_through_the_project() -> None:
    # Project-wide serviceAccountUser would let it act as every account of the project, as any
    # account a later change or another team adds there. None of its project roles may.
    roles = [key.strip('"') for key in bootstrap_locals()["deployer_roles"]]
    assert [role for role in roles if ACTS_AS.search(role)] == []
    for path in tf_files():
        for entry in load_tf(path).get("resource", []):
            for rtype, named in entry.items():
                if rtype.strip('"') not in PROJECT_GRANTS:
                    continue
                for name, body in named.items():
                    if isinstance(body, dict) and not name.startswith("__"):
                        role = str(body.get("role", ""))
                        assert not ACTS_AS.search(role), (path.name, name, role)


def test_the_deployer_acts_as_each_of_the_deployments_own_accounts_only() -> None:
    grants = bootstrap_resources()
    acts_as = grants[("google_service_account_iam_member", "deployer_acts_as")]
    assert acts_as["role"] == '"roles/iam.serviceAccountUser"'
    assert acts_as["member"] == "${google_service_account.deployer.member}"
    assert acts_as["for_each"] == "${local.deployed_as}"
    assert acts_as["service_account_id"] == "${each.value}"
    # deployed_as names the bootstrap's own accounts: every function's, every invoker, the build.
    deployed_as = str(bootstrap_locals()["deployed_as"])
    for account in ("function", "invoker", "build"):
        assert f"google_service_account.{account}" in deployed_as, account
    assert re.findall(r"google_service_account\.(\w+)", deployed_as) == [
        "function",
        "invoker",
        "build",
    ]
    # Every grant on an account goes to an account the bootstrap made, never one found by name.
    account_grants = {
        name: body
        for (rtype, name), body in grants.items()
        if rtype == "google_service_account_iam_member"
    }
    assert set(account_grants) == {"deployer_acts_as", "push_token_creator"}
    token = account_grants["push_token_creator"]
    assert token["role"] == '"roles/iam.serviceAccountTokenCreator"'
    assert token["service_account_id"] == "${google_service_account.invoker[each.key].name}"
    assert "gcp-sa-pubsub" in token["member"]


def test_the_accounts_are_made_by_the_bootstrap_and_named_as_infra_uses_them() -> None:
    made = {name for (rtype, name) in bootstrap_resources() if rtype == "google_service_account"}
    assert made == {"deployer", "planner", "function", "invoker", "build"}
    # infra/ itself creates no account (the deployer could not: it has no right to) and reads
    # the ids from the same module the bootstrap names them with.
    for path in tf_files():
        if path.parent == BOOTSTRAP:
            continue
        for entry in load_tf(path).get("resource", []):
            assert '"google_service_account"' not in entry, path
    for path in (BOOTSTRAP / "main.tf", INFRA / "modules" / "function-plan" / "main.tf"):
        [module] = [
            entry['"account_ids"']
            for entry in load_tf(path).get("module", [])
            if '"account_ids"' in entry
        ]
        source = path.parent / module["source"].strip('"')
        assert source.resolve() == (INFRA / "modules" / "account-ids").resolve(), path
        assert module["name"] == "${var.name}"
        assert "public = fn.public" in module["functions"]
