# Which project and Stripe mode a state belongs to, written into the state by its first apply and
# never changed after. Every later plan compares it with the tfvars: pointing the live tfvars at
# the test state (a wrong -backend-config bucket or prefix at `terraform init`), or the test tfvars
# at the live state, or infra/ at the bootstrap's state, fails the plan naming both, before
# anything is written to either project (the plan's refresh has read the state's resources by
# then). Without it, such a plan would show every resource of the other project replaced by this
# one's: one careless `apply -auto-approve` away. Its limits: a `-target` plan that leaves this
# resource out skips the check, and a `-refresh-only` plan only warns (docs/deploy.md, step 2).
locals {
  identity = "${var.configuration} of ${var.project_id} in Stripe ${var.mode} mode"
}

resource "terraform_data" "this" {
  input = local.identity

  lifecycle {
    # The stored identity is the state's, not the tfvars': a changed tfvars never rewrites it...
    ignore_changes = [input]
    # ...and it cannot be planned away: a destroy (or a replacement) is refused by name.
    prevent_destroy = true

    postcondition {
      condition     = self.output == local.identity
      error_message = "This Terraform state is the ${self.output}, but the tfvars are for the ${local.identity}: `terraform init -reconfigure` with the bucket and prefix of this project and mode (docs/deploy.md, step 2), or use the tfvars of the state's own project and mode."
    }
  }
}
