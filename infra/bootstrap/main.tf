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
  # No storage role: the build account's source-bucket grant is made below, by the owner, so the
  # deployer can never grant a storage role (to itself or anyone) on the project.
  grantable_roles = [
    "roles/datastore.user",
    "roles/firebaseauth.admin",
  ]

  # What `terraform apply` of infra/ needs on the project, role by role, and why. None lets the
  # deployer change its own roles: projectIamAdmin is limited by a condition to the roles above.
  # No secret role on the project: it may only add versions of the webhook signing secret. No IAM role on the project either:
  # it acts as the deployment's own accounts only, granted on each of them below.
  # No storage, Artifact Registry, Pub/Sub admin or Cloud Run admin role either: each of those
  # could change the IAM of every bucket (the state's), repository, topic or service of the
  # project. The bucket and the image repository are made below and granted on by name; the
  # two IAM changes infra/ must make on resources it creates itself (who invokes a function,
  # who publishes to or forwards from a topic) are custom roles holding exactly those
  # permissions (below), because neither Cloud Run nor Pub/Sub lets an IAM condition name the
  # resource (docs/deploy.md, step 4, says what each can and cannot do).
  deployer_roles = {
    "roles/browser"                              = "reads the project (data.google_project)"
    "roles/serviceusage.serviceUsageAdmin"       = "enables the APIs the resources use (google_project_service)"
    "roles/cloudfunctions.developer"             = "creates and updates the functions (not their IAM)"
    "roles/pubsub.editor"                        = "creates and updates the topics and their subscriptions (not their IAM)"
    "roles/datastore.owner"                      = "creates the (default) Firestore database and its TTL fields"
    "roles/firebaserules.admin"                  = "deploys firestore.rules"
    "roles/cloudscheduler.admin"                 = "the job functions' schedules"
    "roles/monitoring.alertPolicyEditor"         = "the dead-letter alert"
    "roles/monitoring.notificationChannelEditor" = "the alert's email channels"
    "roles/logging.logWriter"                    = "writes this build's logs (a user-specified build account needs it)"
  }

  # The IAM changes infra/ makes on resources it creates, as custom roles of exactly those
  # permissions (granted on the project: Cloud Run and Pub/Sub are not among the services whose
  # resource names an IAM condition can test, cloud.google.com/iam/docs/conditions-resource-attributes,
  # so no condition can limit them to this deployment's names).
  deployer_custom_roles = {
    invoker_grants = {
      role_id     = "${var.name}FunctionInvokerGrants"
      title       = "Billing functions' invoker grants"
      description = "Reads and sets who may invoke a Cloud Run service (infra/functions.tf: public functions to allUsers, private ones to their own invoker). Cannot deploy, change or delete a service."
      permissions = [
        "run.services.getIamPolicy",
        "run.services.setIamPolicy",
      ]
    }
    pubsub_grants = {
      role_id     = "${var.name}PubsubGrants"
      title       = "Billing topics' and subscriptions' grants"
      description = "Reads and sets who may publish to a topic or consume a subscription (infra/iam.tf, usage.tf, modules/pubsub-push). Cannot touch schemas' or snapshots' IAM."
      permissions = [
        "pubsub.subscriptions.getIamPolicy",
        "pubsub.subscriptions.setIamPolicy",
        "pubsub.topics.getIamPolicy",
        "pubsub.topics.setIamPolicy",
      ]
    }
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

resource "google_project_iam_member" "deployer" {
  for_each = local.deployer_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.deployer.member
}

# The accounts the deployment runs as, named by modules/account-ids from infra/functions.json
# exactly as infra/ names them: one runtime account per function, one invoker per private
# function, and the build's. They are made here, by an owner, so that the deployer can be let to
# act as each of them (deploy code, push subscriptions and schedules that run as it) and as no
# other account of the project; made by the deployer, that would take actAs on the whole
# project. A release that adds a function needs this applied again first (its deploy stops at
# the missing account otherwise; docs/deploy.md, step 4).
locals {
  manifest = jsondecode(file("${path.module}/../functions.json"))
}

module "account_ids" {
  source = "../modules/account-ids"

  name      = var.name
  functions = { for name, fn in local.manifest.functions : name => { public = fn.public, secrets = fn.secrets, optional_secrets = fn.optional_secrets } }
}

resource "google_service_account" "function" {
  for_each = module.account_ids.runtime

  account_id   = each.value
  display_name = "Runs the ${each.key} function"
  description  = "Runtime identity of the ${local.manifest.functions[each.key].kind} function ${each.key}; its roles are granted by infra/iam.tf."
}

resource "google_service_account" "invoker" {
  for_each = module.account_ids.invoker

  account_id   = each.value
  display_name = "Invokes the ${each.key} function"
  description  = "Identity ${local.manifest.functions[each.key].kind == "event" ? "Pub/Sub pushes" : "Cloud Scheduler calls"} ${each.key} with; run.invoker on that function only."
}

resource "google_service_account" "build" {
  account_id   = module.account_ids.build
  display_name = "Builds the billing functions"
  description  = "Cloud Build account of the functions' builds (infra/source.tf grants its roles)."
}

locals {
  deployed_as = merge(
    { for name, account in google_service_account.function : "runtime/${name}" => account.name },
    { for name, account in google_service_account.invoker : "invoker/${name}" => account.name },
    { build = google_service_account.build.name },
  )
}

# actAs on these accounts, one grant per account: never serviceAccountUser on the project, which
# would let the deployer act as every account of the project (tests/infra/test_pipeline.py).
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = local.deployed_as

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

# The Pub/Sub service agent mints the push OIDC tokens as the event functions' invoker accounts
# (Google grants it that by default only in projects made after April 2021). Granted here, so the
# deployer needs no right to change an account's IAM.
resource "google_service_account_iam_member" "push_token_creator" {
  for_each = { for name, fn in local.manifest.functions : name => fn if fn.kind == "event" }

  service_account_id = google_service_account.invoker[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
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

# The functions' secrets, and who reads them, are set here by an owner: a deployer that could
# change a secret's IAM could grant itself (or anyone) its value. One secret per secret setting
# of infra/functions.json (STRIPE_SECRET_KEY -> billing-stripe-secret-key), named by
# modules/account-ids exactly as infra/ reads them; values are added by hand (docs/deploy.md),
# except the webhook signing secret, which infra/stripe.tf writes.
resource "google_secret_manager_secret" "secret" {
  for_each = module.account_ids.secrets

  secret_id = each.value
  labels    = { env-var = lower(each.key), stripe-mode = var.mode }

  replication {
    auto {}
  }
}

# Each function reads exactly the secrets it may be given, one grant per (function, secret).
resource "google_secret_manager_secret_iam_member" "access" {
  for_each = module.account_ids.secret_access

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# The deployer writes one secret: the webhook signing secret, a new version whenever the endpoint
# is created or rolled, the old one disabled. Add, read metadata, list and disable versions of
# that secret only: no value read, no IAM change, no other secret.
resource "google_project_iam_custom_role" "webhook_secret_writer" {
  role_id     = "${var.name}WebhookSecretWriter"
  title       = "Billing webhook signing secret writer"
  description = "Adds and disables versions of the webhook signing secret; cannot read a value or change IAM."
  permissions = [
    "secretmanager.versions.add",
    "secretmanager.versions.disable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
  ]
}

resource "google_secret_manager_secret_iam_member" "deployer_webhook_secret" {
  secret_id = google_secret_manager_secret.secret["STRIPE_WEBHOOK_SECRETS"].id
  role      = google_project_iam_custom_role.webhook_secret_writer.id
  member    = google_service_account.deployer.member
}

resource "google_project_iam_member" "planner" {
  for_each = local.planner_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.planner.member
}

resource "google_project_iam_custom_role" "deployer" {
  for_each = local.deployer_custom_roles

  role_id     = each.value.role_id
  title       = each.value.title
  description = each.value.description
  permissions = each.value.permissions
}

resource "google_project_iam_member" "deployer_custom" {
  for_each = local.deployer_custom_roles

  project = var.project_id
  role    = google_project_iam_custom_role.deployer[each.key].id
  member  = google_service_account.deployer.member
}

# The deployer keeps the deployment's state: objects in the state bucket, nothing more
# (objectUser: read, write, list and delete objects; no IAM, no ACL, no bucket setting). The
# bootstrap's own state is in another bucket (var.bootstrap_state_bucket) that it gets nothing
# on: it can neither read nor rewrite the record of its own roles. The planner gets no grant.
resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member
}

# The functions' source archives: made here, so the deployer needs no storage role on the
# project (infra/source.tf uploads into it by this name; it may only write objects in it).
resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket that only holds build inputs add cost and no insight; Cloud Audit Logs record who changed it.
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds nothing but rebuildable archives

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "deployer_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectUser"
  member = google_service_account.deployer.member
}

# Where the builds put the functions' images, with old images cleaned up (the default
# gcf-artifacts repository keeps every build forever). Made here, so the deployer needs no
# Artifact Registry role on the project; it may read this repository, the build account write it.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images built from this repository's public source need no customer-managed key; Google-managed encryption applies.
  location      = var.region
  repository_id = "${var.name}-functions"
  format        = "DOCKER"
  description   = "Images Cloud Build makes of the billing functions."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "deployer_images" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.deployer.member
}

# The functions' builds run as their own account (made above) instead of the project's default
# compute account (which new projects no longer give build rights, and which would otherwise be
# shared with everything): its logs, its images, and the buckets holding function sources.
resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_images" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# Cloud Functions copies the archive into its own gcf-v2-sources-*/gcf-v2-uploads-* buckets,
# which exist only after the first deploy, so the build's storage access is limited by name
# (Cloud Storage is one of the services whose resource names a condition can test).
resource "google_project_iam_member" "build_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.build.member

  condition {
    title       = "function-sources-only"
    description = "Only the buckets holding function sources."
    expression = join(" || ", [
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")",
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-\")",
      "resource.name == \"projects/_/buckets/${google_storage_bucket.source.name}\"",
      "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.source.name}/\")",
    ])
  }
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
  # Off until the first apply is done (docs/deploy.md, step 7): committing the mode's settings
  # would deploy before the secrets hold values otherwise.
  disabled = !var.deploys_enabled
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

  depends_on = [google_project_iam_member.deployer, google_project_iam_member.deployer_custom, google_project_iam_member.deployer_grants, google_service_account_iam_member.deployer_acts_as, google_secret_manager_secret_iam_member.deployer_webhook_secret, google_storage_bucket_iam_member.deployer_source, google_artifact_registry_repository_iam_member.build_images]
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

# The bootstrap's state belongs to one project and mode too, and is told apart from the
# deployment's: init it against the other mode's bucket, or against infra/'s state, and the plan
# is refused naming both (modules/state-identity).
module "state_identity" {
  source = "../modules/state-identity"

  configuration = "bootstrap"
  project_id    = var.project_id
  mode          = var.mode
}
