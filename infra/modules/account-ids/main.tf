# The service accounts a deployment runs as: one runtime account per function, one invoker per
# private function (the identity Pub/Sub or Cloud Scheduler calls it with), and the build's.
# infra/bootstrap creates them and lets the deployer act as each of them (and as no other
# account); infra/ deploys functions, subscriptions and schedules as them.
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
}
