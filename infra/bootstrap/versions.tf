# The pipeline's own accounts and triggers, applied once per project by a project owner (never by
# the pipeline: an account that could change these could grant itself anything). Its state is
# kept in a bucket of its own, which the deployer cannot read or write (variables.tf,
# bootstrap_state_bucket):
#   terraform init -backend-config=bucket=BOOTSTRAP_STATE_BUCKET -backend-config=prefix=bootstrap
terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.24, < 8.0"
    }
  }

  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
