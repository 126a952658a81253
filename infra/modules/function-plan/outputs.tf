output "functions" {
  description = "Each function's deployment: entry point, kind, ingress, sizing, roles, env and secrets."
  value       = local.functions

  precondition {
    condition     = length(local.extra_env_overrides) == 0
    error_message = "extra_env may not set ${join(", ", local.extra_env_overrides)}: the configuration sets or computes it (settings, the catalog's prices, the portal configuration, timeouts); set it there instead."
  }
  precondition {
    condition     = length(local.missing_settings) == 0
    error_message = "Settings a function cannot start without are not set: ${join("; ", local.missing_settings)}."
  }
  precondition {
    condition     = length(local.local_only_found) == 0
    error_message = "Local-only settings would be deployed: ${join("; ", local.local_only_found)}."
  }
  precondition {
    condition     = length(setintersection(keys(var.env), local.all_secrets)) == 0
    error_message = "Secrets come from Secret Manager only, never as plain settings: ${join(", ", setintersection(keys(var.env), local.all_secrets))}."
  }
  precondition {
    condition = alltrue([
      for fn in local.functions : fn.timeout_seconds > local.stripe_worst_case && fn.timeout_seconds <= 3600
      if contains(["browser", "webhook"], fn.kind)
    ])
    error_message = "An HTTP function's timeout must exceed the worst case of one Stripe call (${local.stripe_worst_case} s) and be at most 3600 s."
  }
  precondition {
    condition = alltrue([
      for fn in local.functions : fn.min_instances >= 0 && floor(fn.min_instances) == fn.min_instances && fn.min_instances <= fn.max_instances
    ])
    error_message = "min_instances must be a whole number from 0 to the kind's max_instances."
  }
  precondition {
    condition = alltrue([
      for fn in local.functions : fn.concurrency == 1 || tonumber(fn.cpu) >= 1
    ])
    error_message = "A concurrency above 1 needs at least 1 vCPU."
  }
}

output "secret_bindings" {
  description = "One entry per (function, secret it is given). The accessor grants are infra/bootstrap's (modules/account-ids secret_access)."
  value       = local.secret_bindings
}

output "secret_access" {
  description = "The (function, secret) reads infra/bootstrap grants: each function's secrets and optional secrets, whether enabled or not."
  value       = module.account_ids.secret_access
}

output "secret_ids" {
  description = "Environment variable -> the Secret Manager secret id infra/bootstrap created for it."
  value       = module.account_ids.secrets
}

output "secrets" {
  description = "Every secret any function takes (optional ones included), by environment variable name."
  value       = local.all_secrets
}

output "stripe_worst_case_seconds" {
  description = "The longest one Stripe call can take with these retries and timeouts."
  value       = local.stripe_worst_case
}

output "http_timeout_seconds" {
  description = "The timeout of the browser and webhook functions (unless overridden in kinds)."
  value       = local.http_timeout_seconds
}

output "build_account_id" {
  description = "The account id the functions' builds run as (created by infra/bootstrap)."
  value       = module.account_ids.build
}
