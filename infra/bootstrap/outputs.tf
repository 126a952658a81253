output "deployer" {
  description = "The account deploy builds run as."
  value       = google_service_account.deployer.email
}

output "planner" {
  description = "The account pull-request builds run as."
  value       = google_service_account.planner.email
}

output "stripe_terraform_key_secret" {
  description = "Add the Stripe key Terraform uses here: printf %s \"$KEY\" | gcloud secrets versions add SECRET --data-file=-"
  value       = google_secret_manager_secret.stripe_terraform_key.secret_id
}

output "triggers" {
  description = "The build triggers this project runs."
  value       = concat([google_cloudbuild_trigger.deploy.name], google_cloudbuild_trigger.pull_request[*].name)
}

output "function_accounts" {
  description = "Each function's runtime account (infra/ deploys the function as it)."
  value       = { for name, account in google_service_account.function : name => account.email }
}
