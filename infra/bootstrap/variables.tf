variable "project_id" {
  description = "The Google Cloud project of this Stripe mode (one project per mode)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id is a Google Cloud project id: 6-30 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "Region of the build triggers (the same as the repository connection's)."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "The deployment's prefix (infra/ variable `name`): service accounts, secrets and buckets it owns start with it."
  type        = string
  default     = "billing"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name))
    error_message = "name is 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "mode" {
  description = "The Stripe mode this project serves: test (deployed from main, pull requests checked here) or live (deployed from release tags, after an approval)."
  type        = string

  validation {
    condition     = contains(["test", "live"], var.mode)
    error_message = "mode is test or live."
  }
}

variable "state_bucket" {
  description = "The versioned bucket holding the deployment's Terraform state (infra/, prefix billing/MODE; made in docs/deploy.md, step 2). The deployer reads and writes its objects."
  type        = string
}

variable "bootstrap_state_bucket" {
  description = "The bucket holding this configuration's own state (made in docs/deploy.md, step 2): another bucket than state_bucket, on which the deployer is granted nothing."
  type        = string

  validation {
    # The deployer may write every object of state_bucket: the record of its own roles must not
    # be one of them.
    condition     = var.bootstrap_state_bucket != var.state_bucket
    error_message = "bootstrap_state_bucket must be another bucket than state_bucket: the deployer can write every object in state_bucket, so it could rewrite the bootstrap's record of its own roles."
  }
}

variable "repository" {
  description = "The repository's Cloud Build (2nd gen) resource: projects/PROJECT/locations/REGION/connections/CONNECTION/repositories/REPO (docs/deploy.md, step 3)."
  type        = string

  validation {
    condition     = can(regex("^projects/[^/]+/locations/[^/]+/connections/[^/]+/repositories/[^/]+$", var.repository))
    error_message = "repository is a 2nd gen repository resource name: projects/P/locations/R/connections/C/repositories/NAME."
  }
}

variable "live_release_tags" {
  description = "Which tags deploy live mode (a regular expression)."
  type        = string
  default     = "^v[0-9]+\\.[0-9]+\\.[0-9]+$"
}

variable "deploys_enabled" {
  description = "Whether pushes (test mode) or release tags (live mode) deploy. Off until the first apply of infra/ is done by hand (docs/deploy.md, step 7): a push before it would start a deploy against secrets with no value yet."
  type        = bool
  default     = false
}
