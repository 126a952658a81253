# No provider: terraform_data is Terraform's own, so the guard is evaluated offline by the tests
# (tests/infra/test_state_identity.py) exactly as it runs in a deploy.
terraform {
  required_version = ">= 1.5"
}
