# A notification that could not be delivered after every retry is a customer who did not get a
# mail: alert while any message waits in the dead-letter subscription (docs/operations.md says how to read
# and replay them).
resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "Billing alerts to ${each.value}"
  type         = "email"
  labels       = { email_address = each.value }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "dead_letter" {
  display_name = "${var.name}: notifications in the dead-letter queue"
  combiner     = "OR"
  severity     = "ERROR"
  notification_channels = concat(
    var.alert_notification_channels,
    [for channel in google_monitoring_notification_channel.email : channel.id],
  )

  conditions {
    display_name = "Undelivered messages in ${google_pubsub_subscription.dead_letter.name}"

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
    subject   = "Billing notifications could not be delivered"
    content   = <<-EOT
      Messages in `${google_pubsub_subscription.dead_letter.name}` failed every push attempt to an
      event function (usually the email function: SMTP down or refusing). Read the function's
      logs for the cause, fix it, then replay: see docs/operations.md, "Dead-lettered notifications".
    EOT
  }

  alert_strategy {
    auto_close = "604800s"
  }

  depends_on = [google_project_service.apis]
}
