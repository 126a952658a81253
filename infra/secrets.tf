# One Secret Manager secret per secret any function takes (functions.json), e.g.
# STRIPE_SECRET_KEY -> billing-stripe-secret-key. infra/bootstrap creates them, and each
# function's accessor grant, as the project owner: the deployer running this apply may change no
# secret's IAM (it could grant itself the values otherwise) and writes only the webhook signing
# secret's versions (stripe.tf). Values are added out of band (docs/deploy.md), so they never
# enter the state or the repo. Named, not read: the pull-request plan may not read secrets.
locals {
  secret_ids = module.plan.secret_ids
}
