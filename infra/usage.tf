# Metered usage: the app's backends publish usage reports (schemas/usage.v1.json) to this topic;
# the metering function (record-usage) receives them through its own push subscription and
# records each in Stripe once. Usage is money: a report that fails every attempt is kept on the
# dead-letter topic, and an alert fires while any waits there.
resource "google_pubsub_topic" "usage" {
  #checkov:skip=CKV_GCP_83:Usage reports carry ids, a meter name and a count; Google-managed encryption applies.
  name                       = var.usage.topic
  message_retention_duration = var.usage.retention

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "usage_dead_letter" {
  #checkov:skip=CKV_GCP_83:Same content as the usage topic; Google-managed encryption applies.
  name                       = "${var.usage.topic}-dead-letter"
  message_retention_duration = var.usage.retention

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "usage_dead_letter" {
  name                       = "${var.usage.topic}-dead-letter"
  topic                      = google_pubsub_topic.usage_dead_letter.id
  message_retention_duration = var.usage.retention
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "usage_push" {
  for_each = local.usage_functions

  name                       = "${var.usage.topic}-${each.key}"
  topic                      = google_pubsub_topic.usage.id
  message_retention_duration = var.usage.retention
  ack_deadline_seconds       = min(each.value.timeout_seconds, 600)

  push_config {
    push_endpoint = google_cloudfunctions2_function.function[each.key].service_config[0].uri

    oidc_token {
      service_account_email = local.invoker_accounts[each.key].email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  # Stripe answering 429 or 5xx, or Firestore failing: redelivered with backoff...
  retry_policy {
    minimum_backoff = var.usage.minimum_backoff
    maximum_backoff = var.usage.maximum_backoff
  }

  # ...and after max_delivery_attempts kept on the dead-letter topic, never dropped.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.usage_dead_letter.id
    max_delivery_attempts = var.usage.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}

resource "google_pubsub_topic_iam_member" "usage_dead_letter_publisher" {
  topic  = google_pubsub_topic.usage_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "usage_dead_letter_subscriber" {
  for_each = local.usage_functions

  subscription = google_pubsub_subscription.usage_push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The app's backends report usage; nothing else publishes to the topic (never the browser).
resource "google_pubsub_topic_iam_member" "usage_publisher" {
  for_each = toset(var.usage.publishers)

  topic  = google_pubsub_topic.usage.id
  role   = "roles/pubsub.publisher"
  member = each.value
}

resource "google_monitoring_alert_policy" "usage_dead_letter" {
  display_name = "${var.name}: usage reports in the dead-letter queue"
  combiner     = "OR"
  severity     = "ERROR"
  notification_channels = concat(
    var.alert_notification_channels,
    [for channel in google_monitoring_notification_channel.email : channel.id],
  )

  conditions {
    display_name = "Unrecorded usage in ${google_pubsub_subscription.usage_dead_letter.name}"

    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"pubsub_subscription\"",
        "resource.label.subscription_id = \"${google_pubsub_subscription.usage_dead_letter.name}\"",
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
    subject   = "Usage could not be recorded in Stripe"
    content   = <<-EOT
      Usage reports in `${google_pubsub_subscription.usage_dead_letter.name}` failed every push
      to the metering function (Stripe or Firestore failing for longer than the retries). Nothing
      is lost: fix the cause (the function's logs say it), then move the messages back to
      `${var.usage.topic}`; each usage id is recorded once however often it is delivered.
    EOT
  }

  alert_strategy {
    auto_close = "604800s"
  }

  depends_on = [google_project_service.apis]
}
