# Live mode: real payments, in its own Google project (never the test project: the project's
# stripe-mode label, this file's stripe.mode and the key's prefix must all say live). No secret
# here; committed, read by the live deploy build (cloudbuild.yaml). Replace the example values.
project_id = "example-billing-live"
region     = "europe-west1"

stripe = {
  mode                 = "live"
  webhook_generations  = ["1"]
  privacy_policy_url   = "https://example.com/privacy"
  terms_of_service_url = "https://example.com/terms"
}

settings = {
  allowed_origins        = ["https://app.example.com"]
  checkout_success_url   = "https://app.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}"
  checkout_cancel_url    = "https://app.example.com/billing"
  portal_return_url      = "https://app.example.com/account"
  require_verified_email = true
}

mail = {
  smtp_host     = "smtp.sendgrid.net"
  smtp_username = "apikey"
  mail_from     = "billing@example.com"
  support_email = "support@example.com"
  product_name  = "Example"
  app_url       = "https://app.example.com"
  billing_url   = "https://app.example.com/account/billing"
}

optional_secrets = ["SMTP_PASSWORD"]

firestore = {
  location_id = "eur3"
}

alert_emails = ["oncall@example.com"]

kinds = {
  browser = { min_instances = 1 }
}
