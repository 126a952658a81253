terraform {
  # 1.11: write-only arguments (the webhook signing secret goes to Secret Manager without being
  # stored in that resource's state) and ephemeral variables (the Stripe key is never saved).
  required_version = ">= 1.11"

  required_providers {
    # 6.24: refreshing a secret version no longer reads its value (secretmanager.versions.access,
    # which the deployer does not hold); older releases fail the deploy's plan with a 403.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.24, < 8.0"
    }
    # Stripe's official provider; its schema extract (infra/schema/stripe-provider-schema.json)
    # is taken from this exact tag, so move both together (scripts/stripe-provider-schema).
    stripe = {
      source  = "stripe/stripe"
      version = "0.3.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }

  # State lives in a GCS bucket (versioned, made by hand: docs/deploy.md). The bucket and prefix are
  # given at init, one prefix per Stripe mode, so no environment is written into the code:
  #   terraform init -backend-config=bucket=STATE_BUCKET -backend-config=prefix=billing/test
  backend "gcs" {}
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

# The key comes from Secret Manager into the build's environment (TF_VAR_stripe_api_key), or from
# the operator's shell: never from a file, never into the state or a saved plan (ephemeral).
provider "stripe" {
  api_key = var.stripe_api_key
}
