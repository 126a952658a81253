# The roles each function's runtime account holds, and nothing more. Which kind needs what is set
# in modules/function-plan/main.tf (firestore, publishes); secrets come from functions.json
# and are granted by infra/bootstrap.

# Firestore has no per-collection IAM: the Datastore user role on the project is the narrowest
# grant that lets a function read and write documents.
resource "google_project_iam_member" "firestore" {
  for_each = { for name, fn in local.functions : name => fn if fn.firestore }

  project = var.project_id
  role    = "roles/datastore.user"
  member  = local.runtime_accounts[each.key].member
}

# Only the webhook publishes notifications (the plan gives no other kind the role, and no
# variable can), and only to the notifications topic.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = { for name, fn in local.functions : name => fn if fn.publishes }

  topic  = module.notifications.topic_id
  role   = "roles/pubsub.publisher"
  member = local.runtime_accounts[each.key].member
}

# Each function's secret grants (secretAccessor on each secret it takes, and nothing else) are
# made by infra/bootstrap, which creates the secrets: see secrets.tf.

# The webhook and the reconcile job write the entitlement into users' ID tokens (custom claims
# through Identity Toolkit's accounts:update). Firebase Auth has no narrower role for that.
resource "google_project_iam_member" "user_claims" {
  for_each = { for name, fn in local.functions : name => fn if fn.user_claims }

  project = var.project_id
  role    = "roles/firebaseauth.admin"
  member  = local.runtime_accounts[each.key].member
}
