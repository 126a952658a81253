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
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support import docs as markdown
from tests.support.infra import INFRA, REPO, load_tf, run_terraform, tf_files

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


def iam_grants() -> list[tuple[Path, str, str, dict[str, Any]]]:
    """(file, resource type, name, body) of every IAM grant anywhere in infra/ (bootstrap and
    modules included): ``*_iam_member``, ``*_iam_binding``, ``*_iam_policy`` resources and
    ``google_iam_policy`` documents. Custom role definitions are not grants."""
    found = []
    for path in tf_files():
        parsed = load_tf(path)
        for entry in [*parsed.get("resource", []), *parsed.get("data", [])]:
            for rtype, named in entry.items():
                rtype = rtype.strip('"')
                if "_iam_" not in rtype and rtype != "google_iam_policy":
                    continue
                if rtype.endswith("_iam_custom_role"):
                    continue
                for name, body in named.items():
                    if name.startswith("__") or not isinstance(body, dict):
                        continue
                    found.append((path, rtype, name.strip('"'), body))
    return found


def names(account: re.Pattern[str], body: dict[str, Any]) -> bool:
    """Whether a grant's member, members, policy or binding (anything but its description)
    names ``account``, however written."""
    who = {k: v for k, v in body.items() if k not in ("description", "title")}
    return bool(account.search(str(who)))


def iam_entries_naming_the_planner() -> list[tuple[str, str, str, Any]]:
    """(file, resource type, name, role) of every IAM grant anywhere in infra/ (bootstrap and
    modules included) whose member, members, policy or binding names the planner, however it is
    written (``.member``, ``"serviceAccount:${...email}"``, a literal address, a policy
    document), a ``for_each`` over a role map expanded into one entry per role."""
    found = []
    for path, rtype, name, body in iam_grants():
        if not names(PLANNER, body):
            continue
        role = str(body.get("role", body.get("binding", body.get("policy_data"))))
        if role == "${each.key}" and body.get("for_each") == "${local.planner_roles}":
            for key in bootstrap_locals()["planner_roles"]:
                found.append((path.name, rtype, name, key.strip('"')))
        else:
            found.append((path.name, rtype, name, role.strip('"')))
    return found


# Anything that may name the deployer account: the resource, its email, its account id.
DEPLOYER = re.compile(r"deployer", re.IGNORECASE)
DEPLOYER_MEMBER = "${google_service_account.deployer.member}"


def grants_naming_the_deployer_another_way() -> list[tuple[str, str, str]]:
    """(file, resource type, name) of every IAM grant anywhere in infra/ that names the deployer
    other than as one bootstrap ``member = google_service_account.deployer.member``: the only
    form the checks of the deployer's rights below read (``grants_to``)."""
    return [
        (str(path.relative_to(INFRA)), rtype, name)
        for path, rtype, name, body in iam_grants()
        if names(DEPLOYER, body)
        and not (path.parent == BOOTSTRAP and body.get("member") == DEPLOYER_MEMBER)
    ]


def test_every_grant_to_the_deployer_is_one_the_checks_read() -> None:
    # A grant written with the account's email, a literal address, a members list or a policy
    # document would escape every check of the deployer's roles (no admin role, nothing on the
    # bootstrap's bucket, no secret): project-wide storage.admin given as
    # "serviceAccount:${google_service_account.deployer.email}" passed them all.
    assert grants_naming_the_deployer_another_way() == []
    assert len(grants_to("deployer")) == 9  # the bootstrap's grants to it (tested below)


def test_the_deployer_check_finds_a_grant_written_another_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = BOOTSTRAP / "review_extra_grants.tf"
    body = (
        'resource "google_project_iam_member" "x" {\n'
        "  project = var.project_id\n"
        '  role    = "roles/storage.admin"\n'
        '  member  = "serviceAccount:${google_service_account.deployer.email}"\n'
        "}\n"
        'resource "google_storage_bucket_iam_binding" "y" {\n'
        '  bucket  = "${var.project_id}-tfstate-bootstrap"\n'
        '  role    = "roles/storage.objectAdmin"\n'
        "  members = [google_service_account.deployer.member]\n"
        "}\n"
        'data "google_iam_policy" "z" {\n'
        "  binding {\n"
        '    role    = "roles/secretmanager.secretAccessor"\n'
        '    members = ["serviceAccount:billing-deployer@demo.iam.gserviceaccount.com"]\n'
        "  }\n"
        "}\n"
    )
    copy = tmp_path / "extra.tf"
    copy.write_text(body)
    # Read as if it were in infra/bootstrap (where the canonical form is allowed).
    original = load_tf
    real = original(copy)
    files = [*tf_files(), extra]
    monkeypatch.setattr(f"{__name__}.tf_files", lambda: files)
    monkeypatch.setattr(
        f"{__name__}.load_tf", lambda path: real if path == extra else original(path)
    )
    found = [entry for entry in grants_naming_the_deployer_another_way() if "review_" in entry[0]]
    assert found == [
        ("bootstrap/review_extra_grants.tf", "google_project_iam_member", "x"),
        ("bootstrap/review_extra_grants.tf", "google_storage_bucket_iam_binding", "y"),
        ("bootstrap/review_extra_grants.tf", "google_iam_policy", "z"),
    ]


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


CUSTOM_FOR_EACH = "${google_project_iam_custom_role.deployer[each.key].id}"


def custom_role_permissions() -> dict[str, set[str]]:
    """``${google_project_iam_custom_role.NAME.id}`` -> its permissions, for every custom role;
    the ones made by a for_each over ``deployer_custom_roles`` as ``custom:KEY``."""
    found = {}
    for (rtype, name), body in bootstrap_resources().items():
        if rtype != "google_project_iam_custom_role":
            continue
        if body.get("for_each") == "${local.deployer_custom_roles}":
            assert body["permissions"] == "${each.value.permissions}"
            for key, role in bootstrap_locals()["deployer_custom_roles"].items():
                found[f"custom:{key}"] = {p.strip('"') for p in role["permissions"]}
        else:
            found[f"${{google_project_iam_custom_role.{name}.id}}"] = {
                permission.strip('"') for permission in body["permissions"]
            }
    return found


def deployer_role_grants() -> list[tuple[str, str, dict[str, Any]]]:
    """(resource, role, body) of every grant to the deployer, the for_each over deployer_roles
    expanded into one entry per role."""
    found = []
    for rtype, role, body in grants_to("deployer"):
        if role == "${each.key}":
            assert body["for_each"] == "${local.deployer_roles}"
            found += [(rtype, key.strip('"'), body) for key in bootstrap_locals()["deployer_roles"]]
        elif role == CUSTOM_FOR_EACH:
            assert body["for_each"] == "${local.deployer_custom_roles}"
            keys = bootstrap_locals()["deployer_custom_roles"]
            found += [(rtype, f"custom:{key}", body) for key in keys]
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
            # A custom role with a secret permission is granted on that secret only.
            if secret_permissions:
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
    [writer] = [
        role for role, permissions in customs.items() if "secretmanager" in str(permissions)
    ]
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
    assert accessors == [
        "deployer_source",
        "deployer_state",
        "deployer_stripe_key",
        "deployer_webhook_secret",
    ]
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


# What the deployer holds on the project, exactly. Admin roles of storage, Artifact Registry,
# Pub/Sub or Cloud Run would each let it change the IAM of every bucket (the states'), image
# repository, topic or service of the project; none of them may come back.
DEPLOYER_PROJECT_ROLES = {
    "roles/browser",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/cloudfunctions.developer",
    "roles/pubsub.editor",
    "roles/datastore.owner",
    "roles/firebaserules.admin",
    "roles/cloudscheduler.admin",
    "roles/monitoring.alertPolicyEditor",
    "roles/monitoring.notificationChannelEditor",
    "roles/logging.logWriter",
}
# Predefined roles that change IAM on resources of a kind infra/ manages (or on everything).
BROAD = re.compile(
    r"^roles/(owner|editor|viewer|storage\.|artifactregistry\.|run\.|pubsub\.admin|"
    r"cloudfunctions\.admin|iam\.securityAdmin|secretmanager\.)"
)
# The only IAM changes a deployer role may make on the project (each a custom role of exactly
# those permissions, unconditioned because neither Cloud Run nor Pub/Sub lets a condition test
# a resource's name).
ALLOWED_SET_IAM = {
    "run.services.setIamPolicy",
    "pubsub.topics.setIamPolicy",
    "pubsub.subscriptions.setIamPolicy",
}


def deployer_project_grants() -> list[tuple[str, str]]:
    """(role, condition expression or "") of every project-level grant to the deployer."""
    return [
        (role, str(body.get("condition", [{}])[0].get("expression", "")))
        for rtype, role, body in deployer_role_grants()
        if rtype in PROJECT_GRANTS
    ]


def test_the_deployer_holds_no_admin_role_over_buckets_repositories_topics_or_services() -> None:
    grants = deployer_project_grants()
    predefined = {role for role, _ in grants if role.startswith("roles/")}
    assert predefined - {"roles/resourcemanager.projectIamAdmin"} == DEPLOYER_PROJECT_ROLES
    for role in predefined:
        assert not BROAD.search(role) or role == "roles/pubsub.editor", role
    customs = custom_role_permissions()
    for role, _ in grants:
        if role.startswith("custom:"):
            permissions = customs[role]
            set_iam = {p for p in permissions if p.endswith(".setIamPolicy")}
            assert set_iam <= ALLOWED_SET_IAM, (role, set_iam)
            # Nothing but reading and setting those resources' IAM: no deploy, no delete.
            assert all(p.endswith(("IamPolicy",)) for p in permissions), (role, permissions)
            assert not any(p.startswith(("storage.", "artifactregistry.")) for p in permissions)
    assert {p for role, _ in grants if role.startswith("custom:") for p in customs[role]} >= (
        ALLOWED_SET_IAM
    )


def test_the_deployer_writes_only_the_source_bucket_and_reads_only_the_image_repository() -> None:
    grants = bootstrap_resources()
    bucket_grants = {
        name: body
        for (rtype, name), body in grants.items()
        if rtype.startswith("google_storage_bucket_iam")
        and body.get("member") == "${google_service_account.deployer.member}"
    }
    assert {name: body["bucket"] for name, body in bucket_grants.items()} == {
        "deployer_state": "${var.state_bucket}",
        "deployer_source": "${google_storage_bucket.source.name}",
    }
    # objectUser: objects only; no IAM, ACL or bucket setting (objectAdmin could set object ACLs).
    assert {body["role"] for body in bucket_grants.values()} == {'"roles/storage.objectUser"'}
    repository = grants[("google_artifact_registry_repository_iam_member", "deployer_images")]
    assert repository["role"] == '"roles/artifactregistry.reader"'
    assert repository["repository"] == "${google_artifact_registry_repository.functions.name}"
    # The build account's grants are the bootstrap's too: infra/ grants no storage role.
    build_sources = grants[("google_project_iam_member", "build_sources")]
    assert build_sources["member"] == "${google_service_account.build.member}"
    assert "gcf-v2-sources-" in build_sources["condition"][0]["expression"]
    assert not [role for role in bootstrap_locals()["grantable_roles"] if "storage" in role]


def test_no_deployer_grant_covers_the_bootstrap_state() -> None:
    # The bootstrap's state is in its own bucket, named only in its own variable.
    for (rtype, name), body in bootstrap_resources().items():
        assert "bootstrap_state_bucket" not in str(body), (rtype, name)
    # The deployer reaches objects only through the two bucket grants above (neither is the
    # bootstrap's bucket: the variable's validation refuses the same name), through no project
    # role (which would cover every bucket, the bootstrap's included) and through no role it
    # may grant itself.
    for role, _ in deployer_project_grants():
        if role.startswith("custom:"):
            assert not any(p.startswith("storage.") for p in custom_role_permissions()[role])
        else:
            assert not re.search(r"storage|roles/(owner|editor|viewer)$", role), role
    for role in bootstrap_locals()["grantable_roles"]:
        assert not re.search(r"storage|roles/(owner|editor|viewer)", role), role


def test_the_bootstrap_refuses_one_bucket_for_both_states(tmp_path: Path) -> None:
    # bootstrap/variables.tf evaluated by Terraform (no provider needed for variables).
    shutil.copy(BOOTSTRAP / "variables.tf", tmp_path / "variables.tf")
    common = [
        "-var=project_id=my-billing-test",
        "-var=mode=test",
        "-var=repository=projects/p/locations/r/connections/c/repositories/billing",
    ]
    init = run_terraform("init", "-input=false", "-no-color", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    same = run_terraform(
        "plan", "-input=false", "-no-color", *common,
        "-var=state_bucket=my-billing-test-tfstate",
        "-var=bootstrap_state_bucket=my-billing-test-tfstate", cwd=tmp_path,
    )  # fmt: skip
    message = " ".join((same.stderr + same.stdout).split())
    assert same.returncode == 1, message
    assert "bootstrap_state_bucket must be another bucket than state_bucket" in message
    apart = run_terraform(
        "plan", "-input=false", "-no-color", *common,
        "-var=state_bucket=my-billing-test-tfstate",
        "-var=bootstrap_state_bucket=my-billing-test-tfstate-bootstrap", cwd=tmp_path,
    )  # fmt: skip
    assert apart.returncode == 0, apart.stderr


def test_infra_uses_the_bucket_and_repository_the_bootstrap_makes() -> None:
    grants = bootstrap_resources()
    bucket = grants[("google_storage_bucket", "source")]
    repository = grants[("google_artifact_registry_repository", "functions")]
    [infra_names] = [
        entry
        for entry in load_tf(INFRA / "source.tf").get("locals", [])
        if "source_bucket" in entry
    ]
    assert infra_names["source_bucket"] == bucket["name"]
    assert repository["location"] == "${var.region}"
    assert infra_names["image_repository"] == (
        '"projects/${var.project_id}/locations/${var.region}/repositories/'
        + repository["repository_id"].strip('"')
        + '"'
    )
    # infra/ (applied by the deployer) makes neither, and grants nothing on them.
    for path in tf_files():
        if path.parent == BOOTSTRAP:
            continue
        for entry in load_tf(path).get("resource", []):
            for rtype in entry:
                assert not rtype.strip('"').startswith(
                    ("google_storage_bucket_iam", "google_artifact_registry")
                ), (path, rtype)
                assert rtype.strip('"') != "google_storage_bucket", (path, rtype)


def bootstrap_commands() -> list[str]:
    """Every `terraform -chdir=infra/bootstrap apply|import` in docs/deploy.md, continuation
    lines joined and a ``VARS="..."`` of the same block expanded."""
    commands = []
    for block in markdown.blocks(REPO / "docs" / "deploy.md"):
        code = block.code.replace("\\\n", " ")
        variables = dict(re.findall(r'^(\w+)="([^"]*)"$', code, flags=re.MULTILINE))
        for line in code.splitlines():
            if re.match(r"terraform -chdir=infra/bootstrap (apply|import)\b", line):
                for name, value in variables.items():
                    line = line.replace(f"${name}", value)
                commands.append(line)
    return commands


def test_the_deploy_guide_gives_the_bootstrap_every_variable_it_needs() -> None:
    declared: dict[str, Any] = {}
    for entry in load_tf(BOOTSTRAP / "variables.tf")["variable"]:
        declared |= {name.strip('"'): body for name, body in entry.items()}
    required = {name for name, body in declared.items() if "default" not in body}
    assert "bootstrap_state_bucket" in required
    commands = bootstrap_commands()
    assert len(commands) >= 4, commands
    for command in commands:
        given = set(re.findall(r"-var=(\w+)=", command))
        assert given <= set(declared), command
        assert required <= given, (sorted(required - given), command)
        # The bootstrap's state in its own bucket, never the deployment's.
        assert "-var=bootstrap_state_bucket=$PROJECT-tfstate-bootstrap" in command, command
    inits = [
        block.code
        for block in markdown.blocks(REPO / "docs" / "deploy.md")
        if "terraform -chdir=infra/bootstrap init" in block.code
    ]
    for code in inits:
        assert "-backend-config=bucket=$PROJECT-tfstate-bootstrap " in code, code


def test_the_deploy_guides_table_of_the_deployers_rights_is_the_bootstraps() -> None:
    text = (REPO / "docs" / "deploy.md").read_text()
    start = text.index("### What the deployer can and cannot do")
    rows = [
        line.split(" | ")
        for line in text[start : text.index("\n## ", start)].splitlines()
        if line.startswith("| ") and not line.startswith("| what apply does")
    ]
    held = " ".join(row[1] for row in rows)
    # Every role the table says the deployer holds, it holds (and the reverse, for the roles
    # the table is about).
    named = set(re.findall(r"`(roles/[\w.]+)`", held))
    resource_roles = {
        body["role"].strip('"')
        for (rtype, _), body in bootstrap_resources().items()
        if rtype.endswith("_iam_member")
        and body.get("member") == "${google_service_account.deployer.member}"
        and rtype.startswith(("google_storage_bucket", "google_artifact_registry"))
    }
    assert named <= DEPLOYER_PROJECT_ROLES | resource_roles, named
    assert resource_roles <= named
    # Each custom role: its name and exactly its permissions.
    customs = bootstrap_locals()["deployer_custom_roles"]
    for role in customs.values():
        role_id = role["role_id"].strip('"').replace("${var.name}", "billing")
        [row] = [row for row in rows if f"`{role_id}`" in row[1]]
        permissions = {p.strip('"') for p in role["permissions"]}
        written = set()  # `run.services.getIamPolicy`/`setIamPolicy` names two permissions
        for match in re.finditer(r"`([\w.]+)\.(\w+)`((?:/`\w+`)*)", row[1]):
            prefix, verb, more = match.groups()
            written.add(f"{prefix}.{verb}")
            written |= {f"{prefix}.{extra}" for extra in re.findall(r"`(\w+)`", more)}
        assert written == permissions, (role_id, written, permissions)


def test_the_upgrade_deletes_the_build_grant_infra_forgot() -> None:
    # infra/source.tf forgets the old build_sources grant without destroying it (a removed block),
    # and its condition differs from the bootstrap's (a bucket name prefix, no "/"), so it would
    # stay beside the new one unless the upgrade deletes it before the bootstrap's apply.
    removed = [entry["from"] for entry in load_tf(INFRA / "source.tf").get("removed", [])]
    assert "${google_project_iam_member.build_sources}" in str(removed), removed
    [upgrade] = [
        block.code
        for block in markdown.blocks(REPO / "docs" / "deploy.md")
        if "google_storage_bucket.source $PROJECT-billing-source" in block.code
    ]
    code = upgrade.replace("\\\n", " ")
    remove = code.index("gcloud projects remove-iam-policy-binding $PROJECT")
    line = code[remove : code.index("\n", remove)]
    assert "--role=roles/storage.objectAdmin" in line, line
    assert "--member=serviceAccount:billing-build@$PROJECT.iam.gserviceaccount.com" in line
    assert "--all" in line, line
    assert remove < code.index("terraform -chdir=infra/bootstrap apply $VARS")
    bootstrap = bootstrap_resources()[("google_project_iam_member", "build_sources")]
    assert bootstrap["role"] == '"roles/storage.objectAdmin"'
