# Test mode: Stripe's test mode (a sandbox), in its own Google project. This file holds no secret
# (the Stripe key and the SMTP password live in Secret Manager), so it is committed: the deploy
# build and the pull-request plan both read it (cloudbuild.yaml, cloudbuild-pr.yaml). Replace the
# example values with your own.
project_id = "example-billing-test"
region     = "europe-west1"

stripe = {
  mode = "test"
  # Rolling the webhook signing secret: ["1", "2"], apply, then ["2"] (docs/deploy.md).
  webhook_generations = ["1"]
}

settings = {
  allowed_origins      = ["https://staging.example.com"]
  checkout_success_url = "https://staging.example.com/billing/done?session_id={CHECKOUT_SESSION_ID}"
  checkout_cancel_url  = "https://staging.example.com/billing"
  portal_return_url    = "https://staging.example.com/account"
}

# The email function: your provider's SMTP relay. The username is a plain setting; the password
# is the optional secret SMTP_PASSWORD (listed in optional_secrets once it has a value).
mail = {
  smtp_host     = "smtp.sendgrid.net"
  smtp_username = "apikey"
  mail_from     = "billing@example.com"
  support_email = "support@example.com"
  product_name  = "Example (test)"
  app_url       = "https://staging.example.com"
  billing_url   = "https://staging.example.com/account/billing"
}

optional_secrets = ["SMTP_PASSWORD"]

firestore = {
  location_id = "eur3"
}

alert_emails = ["oncall@example.com"]
