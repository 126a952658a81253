# A topic pushed to event functions, each through a push subscription of its own, with a
# dead-letter topic that keeps what fails every attempt and an alert while anything waits there.
# Used for the notifications (infra/pubsub.tf) and for metered usage (infra/usage.tf).
# Not through an Eventarc trigger: the subscription Eventarc creates cannot carry a dead-letter
# policy from Terraform.
resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Notifications and usage reports carry ids, amounts and counts, no card data or secrets; Google-managed encryption applies.
  name                       = var.delivery.topic
  message_retention_duration = var.delivery.retention
}

# Where a message goes after max_delivery_attempts failed pushes. Messages published to a topic
# without subscriptions are dropped, so the dead-letter topic has one that keeps them (and the
# alert below watches it).
resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Same content as the topic it serves; Google-managed encryption applies.
  name                       = "${var.delivery.topic}-dead-letter"
  message_retention_duration = var.delivery.retention
}

resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.delivery.topic}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = var.delivery.retention
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = "" # never expires, even when nothing pulls it for weeks
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = var.endpoints

  name                       = "${var.delivery.topic}-${each.key}"
  topic                      = google_pubsub_topic.topic.id
  message_retention_duration = var.delivery.retention
  # For push, the ack deadline is how long Pub/Sub waits for the answer: the function's timeout,
  # so a slow delivery is not redelivered while it is still running.
  ack_deadline_seconds = min(each.value.timeout_seconds, 600)

  push_config {
    # The run.app address: what OIDC audiences and VPC Service Controls expect for push.
    push_endpoint = each.value.uri

    oidc_token {
      service_account_email = each.value.invoker_email
      audience              = each.value.uri
    }
  }

  # The function answering non-2xx (core.pubsub_push.Redeliver) or timing out: redelivered
  # with backoff...
  retry_policy {
    minimum_backoff = var.delivery.minimum_backoff
    maximum_backoff = var.delivery.maximum_backoff
  }

  # ...and after max_delivery_attempts kept on the dead-letter topic, never dropped.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.delivery.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent moves undeliverable messages: it must publish to the dead-letter
# topic and acknowledge them on the source subscription. (It also mints the push OIDC tokens as
# the invoker accounts: infra/bootstrap grants that, on those accounts only.)
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = var.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = var.endpoints

  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_agent
}

resource "google_monitoring_alert_policy" "dead_letter" {
  display_name          = var.alert.display_name
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert.notification_channels

  conditions {
    display_name = "${var.alert.condition} ${google_pubsub_subscription.dead_letter.name}"

    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"pubsub_subscription\"",
        "resource.label.subscription_id = \"${google_pubsub_subscription.dead_letter.name}\"",
        "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = var.alert.subject
    content   = var.alert.content
  }

  alert_strategy {
    auto_close = "604800s"
  }
}
