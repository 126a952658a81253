# No provider and no resource: the ids are computed, so infra/bootstrap (which creates the
# accounts) and infra/ (which deploys as them) derive the same ones from infra/functions.json,
# and the tests evaluate them offline.
terraform {
  required_version = ">= 1.5"
}
