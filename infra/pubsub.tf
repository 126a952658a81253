# Notifications: the webhook publishes to this topic (NOTIFICATIONS_TOPIC); each event function
# receives them through a push subscription of its own. Not through an Eventarc trigger: the
# subscription Eventarc creates cannot carry a dead-letter policy from Terraform.
resource "google_pubsub_topic" "notifications" {
  #checkov:skip=CKV_GCP_83:Notifications carry ids and amounts, no card data or secrets; Google-managed encryption applies.
  name                       = var.notifications.topic
  message_retention_duration = var.notifications.retention

  depends_on = [google_project_service.apis]
}

# Where a notification goes after max_delivery_attempts failed pushes. Messages published to a
# topic without subscriptions are dropped, so the dead-letter topic has one that keeps them
# (and the alert in monitoring.tf watches it).
resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Same content as the notifications topic; Google-managed encryption applies.
  name                       = "${var.notifications.topic}-dead-letter"
  message_retention_duration = var.notifications.retention

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.notifications.topic}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = var.notifications.retention
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = "" # never expires, even when nothing pulls it for weeks
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.notification_functions

  name                       = "${var.notifications.topic}-${each.key}"
  topic                      = google_pubsub_topic.notifications.id
  message_retention_duration = var.notifications.retention
  # For push, the ack deadline is how long Pub/Sub waits for the answer: the function's timeout,
  # so a slow send is not redelivered while it is still running.
  ack_deadline_seconds = min(each.value.timeout_seconds, 600)

  push_config {
    # The run.app address: what OIDC audiences and VPC Service Controls expect for push.
    push_endpoint = google_cloudfunctions2_function.function[each.key].service_config[0].uri

    oidc_token {
      service_account_email = local.invoker_accounts[each.key].email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  # A failed send (the function answers 5xx or times out) is redelivered with backoff...
  retry_policy {
    minimum_backoff = var.notifications.minimum_backoff
    maximum_backoff = var.notifications.maximum_backoff
  }

  # ...and after max_delivery_attempts it moves to the dead-letter topic instead of forever.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.notifications.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}

# The Pub/Sub service agent moves undeliverable messages: it must publish to the dead-letter
# topic and acknowledge them on the source subscription. (It also mints the push OIDC tokens as
# the invoker accounts: infra/bootstrap grants that, on those accounts only.)
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.notification_functions

  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
