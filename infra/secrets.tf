# One Secret Manager secret per secret any function takes (functions.json), e.g.
# STRIPE_SECRET_KEY -> billing-stripe-secret-key. Terraform creates the secret, never its value:
# values are added out of band (docs/deploy.md), so they never enter the state or the repo.
resource "google_secret_manager_secret" "secret" {
  for_each = toset(module.plan.secrets)

  secret_id = "${var.name}-${lower(replace(each.value, "_", "-"))}"
  labels    = { env-var = lower(each.value) }

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
