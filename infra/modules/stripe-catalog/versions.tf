# No provider and no resource: this module only turns the catalog into the maps infra/stripe.tf
# iterates over, so the tests can evaluate it with `terraform apply` offline
# (tests/infra/test_stripe_catalog.py) on the real catalog and on fixtures.
terraform {
  required_version = ">= 1.5"
}
