data "google_project" "this" {
  project_id = var.project_id

  # infra/main.tf refuses to deploy a mode into a project labelled for the other one.
  lifecycle {
    postcondition {
      condition     = lookup(merge(self.labels, self.effective_labels), "stripe-mode", "") == var.mode
      error_message = "Label the project first: gcloud projects update ${var.project_id} --update-labels=stripe-mode=${var.mode}"
    }
  }
}

locals {
  # The only roles infra/*.tf grants on the project (google_project_iam_member). The deployer may
  # grant these and nothing else; tests/infra/test_pipeline.py keeps the two lists equal.
  # (firebaseauth.admin: the webhook and reconcile write users' custom claims; infra/iam.tf.)
  grantable_roles = [
    "roles/datastore.user",
    "roles/firebaseauth.admin",
    "roles/logging.logWriter",
    "roles/storage.objectAdmin",
  ]

  # What `terraform apply` of infra/ needs, role by role, and why. None lets the deployer change
  # its own roles: projectIamAdmin is limited by a condition to the roles above, and the secret
  # permissions to this deployment's secrets.
  deployer_roles = {
    "roles/browser"                              = "reads the project (data.google_project)"
    "roles/serviceusage.serviceUsageAdmin"       = "enables the APIs the resources use (google_project_service)"
    "roles/cloudfunctions.developer"             = "creates and updates the functions (not their IAM)"
    "roles/run.admin"                            = "grants run.invoker on the functions' Cloud Run services (public ones to allUsers, private ones to their invoker)"
    "roles/iam.serviceAccountAdmin"              = "creates the per-function accounts and lets the Pub/Sub agent mint the push tokens (google_service_account_iam_member)"
    "roles/iam.serviceAccountUser"               = "deploys functions, push subscriptions and scheduler jobs that run as those accounts"
    "roles/pubsub.admin"                         = "the notifications topics, their subscriptions and publisher/subscriber grants"
    "roles/datastore.owner"                      = "creates the (default) Firestore database and its TTL fields"
    "roles/firebaserules.admin"                  = "deploys firestore.rules"
    "roles/cloudscheduler.admin"                 = "the job functions' schedules"
    "roles/monitoring.alertPolicyEditor"         = "the dead-letter alert"
    "roles/monitoring.notificationChannelEditor" = "the alert's email channels"
    "roles/storage.admin"                        = "creates the source bucket and uploads the archive"
    "roles/artifactregistry.admin"               = "the functions' image repository and the build account's writer grant"
    "roles/logging.logWriter"                    = "writes this build's logs (a user-specified build account needs it)"
  }

  # A pull-request build runs code nobody has reviewed yet: it may read the project's metadata
  # for `terraform plan` and write its own logs. Nothing else: no state (which holds the webhook
  # signing secret), no secret, no write, no other account.
  planner_roles = {
    "roles/browser"           = "reads the project (data.google_project) for terraform plan"
    "roles/logging.logWriter" = "writes this build's logs (a user-specified build account needs it)"
  }
}

resource "google_service_account" "deployer" {
  account_id   = "${var.name}-deployer"
  display_name = "Deploys the billing functions (${var.mode} mode)"
  description  = "Runs terraform apply of infra/ from reviewed code only: the ${var.mode} mode deploy trigger."
}

resource "google_service_account" "planner" {
  account_id   = "${var.name}-planner"
  display_name = "Checks pull requests (tests and terraform plan)"
  description  = "Runs pull-request builds: reads the project, cannot change it, cannot read a secret or the state."
}

# serviceAccountAdmin and serviceAccountUser are project-wide because infra/ creates one account
# per function (their names come from the registry), so they cannot be granted per account before
# they exist. The deployer can therefore act as any service account in this project: keep
# nothing else in it that holds more than the deployer (no default compute account with Editor:
# the iam.automaticIamGrantsForDefaultServiceAccounts policy, enforced by default in
# organizations since 2024, or remove that grant). docs/deploy.md says so at step 1.
resource "google_project_iam_member" "deployer" {
  #checkov:skip=CKV_GCP_41:The deployer creates and deploys as one runtime account per function (names from the registry); see the comment above for the limit this relies on.
  #checkov:skip=CKV_GCP_49:Same reason: per-function accounts are created by the apply itself, so account roles cannot be granted per account beforehand.
  for_each = local.deployer_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.deployer.member
}

# Unavoidable: infra/ grants its functions roles on the project (Firestore access, build logs,
# function sources). projectIamAdmin alone would let the deployer grant itself Owner; the
# condition lets it add or remove only those roles, for anyone.
resource "google_project_iam_member" "deployer_grants" {
  project = var.project_id
  role    = "roles/resourcemanager.projectIamAdmin"
  member  = google_service_account.deployer.member

  condition {
    title       = "only-the-roles-infra-grants"
    description = "May grant or revoke only ${join(", ", local.grantable_roles)}."
    expression  = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(${jsonencode(local.grantable_roles)})"
  }
}

# Secrets: create them, add versions (the webhook signing secret) and grant each function its own,
# but never read a value, and only this deployment's secrets. (Granting a function a secret is
# setIamPolicy on it; the deployer deploys code that reads secrets by design, which is why only
# reviewed code on the deploy trigger runs as it.)
resource "google_project_iam_custom_role" "secrets_deployer" {
  role_id     = "${var.name}SecretsDeployer"
  title       = "Billing secrets deployer"
  description = "Manages the billing deployment's secrets and their grants; cannot read secret values."
  permissions = [
    "secretmanager.secrets.create",
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
    "secretmanager.secrets.getIamPolicy",
    "secretmanager.secrets.list",
    "secretmanager.secrets.setIamPolicy",
    "secretmanager.secrets.update",
    "secretmanager.versions.add",
    "secretmanager.versions.destroy",
    "secretmanager.versions.disable",
    "secretmanager.versions.enable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
  ]
}

resource "google_project_iam_member" "deployer_secrets" {
  project = var.project_id
  role    = google_project_iam_custom_role.secrets_deployer.id
  member  = google_service_account.deployer.member

  condition {
    title       = "this-deployments-secrets"
    description = "Only secrets named ${var.name}-*."
    expression  = "resource.type != 'secretmanager.googleapis.com/Secret' && resource.type != 'secretmanager.googleapis.com/SecretVersion' || resource.name.startsWith('projects/${data.google_project.this.number}/secrets/${var.name}-')"
  }
}

resource "google_project_iam_member" "planner" {
  for_each = local.planner_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.planner.member
}

# The deployer keeps the state (objects in the state bucket); the planner gets no grant here.
resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}

# The Stripe key Terraform manages this mode's Stripe with. The value is added by hand
# (docs/deploy.md); only the deployer may read it.
resource "google_secret_manager_secret" "stripe_terraform_key" {
  secret_id = "${var.name}-terraform-stripe-key"
  labels    = { stripe-mode = var.mode }

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "deployer_stripe_key" {
  secret_id = google_secret_manager_secret.stripe_terraform_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.deployer.member
}

# Reviewed code deploys: test mode from every push to main, live mode from release tags after
# someone approves the build in the console.
resource "google_cloudbuild_trigger" "deploy" {
  name            = "${var.name}-deploy-${var.mode}"
  location        = var.region
  description     = "Tests, then terraform plan and apply of infra/ in ${var.mode} mode, as ${google_service_account.deployer.account_id}."
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.deployer.id
  substitutions = {
    _MODE               = var.mode
    _TF_STATE_BUCKET    = var.state_bucket
    _STRIPE_KEY_SECRET  = google_secret_manager_secret.stripe_terraform_key.secret_id
    _DEPLOY_BRANCH_NAME = "main"
  }

  repository_event_config {
    repository = var.repository

    push {
      branch = var.mode == "test" ? "^main$" : null
      tag    = var.mode == "live" ? var.live_release_tags : null
    }
  }

  approval_config {
    approval_required = var.mode == "live"
  }

  depends_on = [google_project_iam_member.deployer, google_project_iam_member.deployer_grants]
}

# Pull requests (forks included) are tested and planned in the test project only, as the planner:
# whatever the pull request changes in the build files, it runs with the planner's rights.
resource "google_cloudbuild_trigger" "pull_request" {
  count = var.mode == "test" ? 1 : 0

  name            = "${var.name}-pull-request"
  location        = var.region
  description     = "Tests and a speculative terraform plan of infra/, as ${google_service_account.planner.account_id} (read-only, no secrets)."
  filename        = "cloudbuild-pr.yaml"
  service_account = google_service_account.planner.id
  substitutions   = { _MODE = var.mode }

  repository_event_config {
    repository = var.repository

    pull_request {
      branch = "^main$"
      # A pull request from someone outside the repository's collaborators builds only after a
      # collaborator comments /gcbrun.
      comment_control = "COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"
    }
  }

  depends_on = [google_project_iam_member.planner]
}
