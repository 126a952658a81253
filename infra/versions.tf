terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }

  # State lives in a GCS bucket (versioned, created once by hand: see docs/deploy.md). The bucket
  # and prefix are given at init, so no environment is written into the code:
  #   terraform init -backend-config=bucket=STATE_BUCKET -backend-config=prefix=billing
  backend "gcs" {}
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}
