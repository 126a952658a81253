# The project's (default) Firestore database: the functions' client and firestore.rules use it.
# A project that already has one: import it first (docs/deploy.md).
resource "google_firestore_database" "main" {
  name                              = "(default)"
  location_id                       = var.firestore.location_id
  type                              = "FIRESTORE_NATIVE"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.firestore.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = "ABANDON" # destroying the stack never deletes customers' entitlements

  depends_on = [google_project_service.apis]
}

# Security rules from the repository's firestore.rules (the local emulator enforces the same
# file): users read their own entitlements/{uid}, nothing else; no client writes.
resource "google_firebaserules_ruleset" "firestore" {
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../firestore.rules")
    }
  }

  # A ruleset in use cannot be deleted: make the new one and move the release to it first.
  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_firestore_database.main]
}

resource "google_firebaserules_release" "firestore" {
  name         = "cloud.firestore" # the release the (default) database enforces
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore.name}"
}

# Bookkeeping documents expire instead of growing forever: processed Stripe events (the webhook's
# inbox and outbox), sent mails (the email function's dedupe) and customers' checkout locks. Each carries `expire_at`; Firestore
# deletes a document within a day or so after that time. The field is never queried, so it has
# no index (an always-increasing indexed timestamp is also a write hotspot).
resource "google_firestore_field" "ttl" {
  for_each = toset(["stripe_events", "sent_emails", "checkout_locks"])

  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}
  index_config {}
}
