# The service accounts a deployment runs as: one runtime account per function, one invoker per
# private function (the identity Pub/Sub or Cloud Scheduler calls it with), and the build's.
# infra/bootstrap creates them and lets the deployer act as each of them (and as no other
# account); infra/ deploys functions, subscriptions and schedules as them.
# Also the Secret Manager secret each secret setting is read from, and which function reads
# which: infra/bootstrap (run by an owner) creates the secrets and the functions' accessor
# grants, so the deployer never needs the right to change a secret's IAM.
locals {
  # Service account ids are 6-30 characters: a longer one is cut and keeps a hash of the whole,
  # so two never collide.
  ids = {
    for name, fn in var.functions : name => {
      for role, id in { runtime = "${var.name}-${name}", invoker = "${var.name}-${name}-invoker" } :
      role => length(id) <= 30 ? id : "${trimsuffix(substr(id, 0, 25), "-")}-${substr(sha1(id), 0, 4)}"
    }
  }
  runtime = { for name, ids in local.ids : name => ids.runtime }
  invoker = { for name, ids in local.ids : name => ids.invoker if !var.functions[name].public }
  build   = "${var.name}-build"

  # STRIPE_SECRET_KEY -> billing-stripe-secret-key; optional secrets included (a secret that is
  # not enabled exists, empty, and no revision reads it).
  secrets = {
    for env in distinct(flatten([for fn in var.functions : concat(fn.secrets, fn.optional_secrets)])) :
    env => "${var.name}-${lower(replace(env, "_", "-"))}"
  }
  secret_access = merge([
    for name, fn in var.functions : {
      for env in distinct(concat(fn.secrets, fn.optional_secrets)) :
      "${name}/${env}" => { function = name, secret = env }
    }
  ]...)
}
