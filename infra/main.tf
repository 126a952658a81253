data "google_project" "this" {
  project_id = var.project_id

  # One project per Stripe mode: infra/bootstrap labels the project with its mode, and a test
  # mode configuration (or key) can never be applied to the live project, or the other way.
  lifecycle {
    postcondition {
      condition     = lookup(merge(self.labels, self.effective_labels), "stripe-mode", "") == var.stripe.mode
      error_message = "Project ${var.project_id} is not labelled stripe-mode=${var.stripe.mode} (infra/bootstrap sets it): this configuration is for the other mode's project."
    }
  }
}

# Every API a resource here needs. The bootstrap in docs/deploy.md enables the same list once before the
# first apply (enabling takes effect a while after the call returns); keeping them here too
# states what the deployment depends on. Nothing is disabled on destroy: other workloads in the
# project may use them.
resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com", # the functions' images
    "cloudbuild.googleapis.com",       # builds the functions from source
    "cloudfunctions.googleapis.com",   # the functions
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",  # job functions
    "firebaserules.googleapis.com",   # firestore.rules
    "firestore.googleapis.com",       # entitlements and bookkeeping documents
    "iam.googleapis.com",             # service accounts
    "identitytoolkit.googleapis.com", # Firebase Auth: the entitlement's custom claim
    "logging.googleapis.com",
    "monitoring.googleapis.com",    # the dead-letter alert
    "pubsub.googleapis.com",        # notifications
    "run.googleapis.com",           # 2nd gen functions run on Cloud Run
    "secretmanager.googleapis.com", # Stripe and SMTP secrets
    "storage.googleapis.com",       # the source archive
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
