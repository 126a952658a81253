output "function_urls" {
  description = "Every function's HTTPS URL, by deployed name (the frontend calls the browser ones)."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.url }
}

output "stripe_webhook_url" {
  description = "Where Stripe posts events (the webhook function's URL; the endpoint is stripe_webhook_endpoint.billing)."
  value       = local.webhook_url
}

output "stripe_webhook_endpoints" {
  description = "The Stripe webhook endpoint id per generation (stripe.webhook_generations)."
  value       = { for generation, endpoint in stripe_webhook_endpoint.billing : generation => endpoint.id }
}

output "stripe_prices" {
  description = "This mode's Stripe price id per catalog lookup key; the offered ones are the functions' ALLOWED_PRICE_IDS."
  value       = { for key, price in stripe_price.price : key => price.id }
}

output "stripe_portal_configuration" {
  description = "The billing portal configuration create-portal-session uses (PORTAL_CONFIGURATION_ID)."
  value       = stripe_billing_portal_configuration.portal.id
}

output "secrets" {
  description = "Secret Manager secret id per environment variable: add each value (except STRIPE_WEBHOOK_SECRETS, which this apply writes) with `gcloud secrets versions add ID --data-file=-`."
  value       = local.secret_ids
}

output "service_accounts" {
  description = "Each function's runtime service account (created by infra/bootstrap)."
  value       = { for name, account in local.runtime_accounts : name => account.email }
}

output "notifications_topic" {
  description = "The topic the webhook publishes notifications to."
  value       = module.notifications.topic_name
}

output "dead_letter_subscription" {
  description = "Where undeliverable notifications wait (pull them to inspect or replay)."
  value       = module.notifications.dead_letter_subscription
}

output "http_timeout_seconds" {
  description = "The browser and webhook functions' timeout, computed from upstream_timeouts."
  value       = module.plan.http_timeout_seconds
}

output "source_object" {
  description = "The deployed source archive (its name carries the archive's SHA-256)."
  value       = "gs://${local.source_bucket}/${google_storage_bucket_object.source.name}"
}
