# No provider and no resource: this module only computes, so the tests can evaluate it with
# `terraform apply` offline (tests/infra/test_function_plan.py) on the real manifest and on
# fixtures with every kind of function.
terraform {
  required_version = ">= 1.5"
}
