output "runtime" {
  description = "Function name -> the account id its code runs as."
  value       = local.runtime

  precondition {
    condition     = length(distinct(concat(values(local.runtime), values(local.invoker), [local.build]))) == length(local.runtime) + length(local.invoker) + 1
    error_message = "Two service accounts would share an id."
  }
}

output "invoker" {
  description = "Private function name -> the account id Pub/Sub or Cloud Scheduler calls it as."
  value       = local.invoker
}

output "build" {
  description = "The account id the functions' Cloud Build builds run as."
  value       = local.build
}

output "secrets" {
  description = "Environment variable -> the Secret Manager secret id it is read from."
  value       = local.secrets
}

output "secret_access" {
  description = "One entry per (function, secret it may be given, optional ones included): its runtime account reads that secret only."
  value       = local.secret_access
}
