# One runtime service account per function: it holds only the roles that function uses (see
# iam.tf), so a flaw in one operation cannot read another's secrets or write where it never does.
# The accounts are infra/bootstrap's (modules/account-ids names them from functions.json): the
# deployer may act as each of them and as no other account, so it could not create one here.
locals {
  account_domain = "${var.project_id}.iam.gserviceaccount.com"
  runtime_accounts = {
    for name, fn in local.functions : name => {
      email  = "${fn.service_account_id}@${local.account_domain}"
      member = "serviceAccount:${fn.service_account_id}@${local.account_domain}"
    }
  }
  invoker_accounts = {
    for name, fn in local.private_functions : name => {
      email  = "${fn.invoker_account_id}@${local.account_domain}"
      member = "serviceAccount:${fn.invoker_account_id}@${local.account_domain}"
    }
  }
  build_account = {
    id     = "projects/${var.project_id}/serviceAccounts/${module.plan.build_account_id}@${local.account_domain}"
    member = "serviceAccount:${module.plan.build_account_id}@${local.account_domain}"
  }
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:ALLOW_ALL only for the browser and webhook functions, which browsers and Stripe call from the internet; event and job functions get ALLOW_INTERNAL_ONLY (ingress is per function, from the plan module).
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = "${each.value.kind} function ${each.value.entry_point} (functions/app/registry.py)"
  labels      = { kind = each.value.kind }

  build_config {
    runtime           = "python312"
    entry_point       = each.value.entry_point
    service_account   = local.build_account.id
    docker_repository = local.image_repository

    source {
      storage_source {
        bucket = local.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }

    # Rebuild on the runtime's security updates without waiting for a code change.
    automatic_update_policy {}
  }

  service_config {
    service_account_email = local.runtime_accounts[each.key].email
    # Sizing, concurrency and timeout per kind, with the reasons: modules/function-plan/main.tf.
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = each.value.timeout_seconds
    # Public for browsers and Stripe; event and job functions only take traffic from Pub/Sub and
    # Cloud Scheduler in this project (and still require their OIDC token).
    ingress_settings               = each.value.ingress
    all_traffic_on_latest_revision = true
    environment_variables          = each.value.env

    # Secrets are read from Secret Manager when an instance starts; never plain env values.
    dynamic "secret_environment_variables" {
      for_each = toset(each.value.secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = local.secret_ids[secret_environment_variables.value]
        # Pinned where this apply writes the value (the webhook signing secret: stripe.tf), so
        # a new value is a new revision; the ones added by hand are read as `latest`.
        version = lookup(local.pinned_secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  # The build account's grants (image repository, sources, logs) and the secrets' are
  # infra/bootstrap's, applied before any deploy: a build whose account cannot write its image
  # fails the deploy.
}

# Browsers and Stripe call these without a Google identity (each function authenticates its
# caller itself: Firebase ID token or Stripe-Signature). 2nd gen functions are invoked through
# their Cloud Run service, so the grant is run.invoker there.
resource "google_cloud_run_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:Public on purpose: browsers (Firebase ID token checked in code) and Stripe (signature checked in code) must reach these functions.
  for_each = local.public_functions

  location = google_cloudfunctions2_function.function[each.key].location
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Event and job functions are private: only their own invoker account (Pub/Sub's push OIDC token,
# Cloud Scheduler's OIDC token) may call them, and only that function.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.private_functions

  location = google_cloudfunctions2_function.function[each.key].location
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = local.invoker_accounts[each.key].member
}
