output "identity" {
  description = "The project and mode this state belongs to."
  value       = terraform_data.this.output
}
