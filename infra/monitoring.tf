# Who gets the dead-letter alerts of the notifications (pubsub.tf) and of usage (usage.tf): the
# alerts themselves are in modules/pubsub-push.
resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "Billing alerts to ${each.value}"
  type         = "email"
  labels       = { email_address = each.value }

  depends_on = [google_project_service.apis]
}

locals {
  alert_channels = concat(
    var.alert_notification_channels,
    [for channel in google_monitoring_notification_channel.email : channel.id],
  )
}
