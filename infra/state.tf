# This state belongs to one project and one Stripe mode (the backend's bucket and prefix are given
# at `terraform init`, so nothing in the code ties them to the tfvars): a plan with the other
# mode's tfvars, or another project's, is refused before it changes anything
# (modules/state-identity; tests/infra/test_state_identity.py).
module "state_identity" {
  source = "./modules/state-identity"

  configuration = "deployment"
  project_id    = var.project_id
  mode          = var.stripe.mode
}
