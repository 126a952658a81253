# Metered usage: the app's backends publish usage reports (schemas/usage.v1.json) to this topic;
# the metering function (record-usage) receives them through its own push subscription and
# records each in Stripe once. Usage is money: a report that fails every attempt is kept on the
# dead-letter topic, and an alert fires while any waits there (modules/pubsub-push, the same as
# the notifications' in pubsub.tf).
module "usage" {
  source = "./modules/pubsub-push"

  delivery = var.usage
  endpoints = {
    for name, fn in local.usage_functions : name => {
      uri             = google_cloudfunctions2_function.function[name].service_config[0].uri
      invoker_email   = local.invoker_accounts[name].email
      timeout_seconds = fn.timeout_seconds
    }
  }
  pubsub_agent = local.pubsub_agent

  alert = {
    display_name          = "${var.name}: usage reports in the dead-letter queue"
    condition             = "Unrecorded usage in"
    subject               = "Usage could not be recorded in Stripe"
    notification_channels = local.alert_channels
    content               = <<-EOT
      Usage reports in `${var.usage.topic}-dead-letter` failed every push
      to the metering function (Stripe or Firestore failing for longer than the retries). Nothing
      is lost: fix the cause (the function's logs say it), then move the messages back to
      `${var.usage.topic}`; each usage id is recorded once however often it is delivered.
    EOT
  }

  depends_on = [google_project_service.apis, google_cloud_run_service_iam_member.invoker]
}

# The app's backends report usage; nothing else publishes to the topic (never the browser).
resource "google_pubsub_topic_iam_member" "usage_publisher" {
  for_each = toset(var.usage.publishers)

  topic  = module.usage.topic_id
  role   = "roles/pubsub.publisher"
  member = each.value
}

# Declared here before the module held them: an existing deployment keeps every one
# (tests/infra/test_pubsub_module.py).
moved {
  from = google_pubsub_topic.usage
  to   = module.usage.google_pubsub_topic.topic
}

moved {
  from = google_pubsub_topic.usage_dead_letter
  to   = module.usage.google_pubsub_topic.dead_letter
}

moved {
  from = google_pubsub_subscription.usage_dead_letter
  to   = module.usage.google_pubsub_subscription.dead_letter
}

moved {
  from = google_pubsub_subscription.usage_push
  to   = module.usage.google_pubsub_subscription.push
}

moved {
  from = google_pubsub_topic_iam_member.usage_dead_letter_publisher
  to   = module.usage.google_pubsub_topic_iam_member.dead_letter_publisher
}

moved {
  from = google_pubsub_subscription_iam_member.usage_dead_letter_subscriber
  to   = module.usage.google_pubsub_subscription_iam_member.dead_letter_subscriber
}

moved {
  from = google_monitoring_alert_policy.usage_dead_letter
  to   = module.usage.google_monitoring_alert_policy.dead_letter
}
