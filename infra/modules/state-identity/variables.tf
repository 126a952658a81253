variable "configuration" {
  description = "Which configuration keeps this state: \"deployment\" (infra/) or \"bootstrap\" (infra/bootstrap)."
  type        = string

  validation {
    condition     = contains(["deployment", "bootstrap"], var.configuration)
    error_message = "configuration is deployment or bootstrap."
  }
}

variable "project_id" {
  description = "The Google Cloud project the tfvars deploy to."
  type        = string
}

variable "mode" {
  description = "The Stripe mode the tfvars deploy (test or live)."
  type        = string
}
