# Notifications: the webhook publishes to this topic (NOTIFICATIONS_TOPIC); each event function
# receives them through a push subscription of its own, with a dead-letter topic and an alert
# (modules/pubsub-push, the same as the usage topic's in usage.tf).
module "notifications" {
  source = "./modules/pubsub-push"

  delivery = var.notifications
  endpoints = {
    for name, fn in local.notification_functions : name => {
      uri             = google_cloudfunctions2_function.function[name].service_config[0].uri
      invoker_email   = local.invoker_accounts[name].email
      timeout_seconds = fn.timeout_seconds
    }
  }
  pubsub_agent = local.pubsub_agent

  # A notification that could not be delivered after every retry is a customer who did not get
  # a mail (docs/operations.md says how to read and replay them).
  alert = {
    display_name          = "${var.name}: notifications in the dead-letter queue"
    condition             = "Undelivered messages in"
    subject               = "Billing notifications could not be delivered"
    notification_channels = local.alert_channels
    content               = <<-EOT
      Messages in `${var.notifications.topic}-dead-letter` failed every push attempt to an
      event function (usually the email function: SMTP down or refusing). Read the function's
      logs for the cause, fix it, then replay: see docs/operations.md, "Dead-lettered notifications".
    EOT
  }

  depends_on = [google_project_service.apis, google_cloud_run_service_iam_member.invoker]
}

# The Pub/Sub service agent moves undeliverable messages (modules/pubsub-push grants it what that
# takes, on each topic's dead-letter topic and subscriptions only).
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# These resources were declared here before the module held them: an existing deployment keeps
# every one (tests/infra/test_pubsub_module.py checks that each old address is moved, and to
# the same arguments).
moved {
  from = google_pubsub_topic.notifications
  to   = module.notifications.google_pubsub_topic.topic
}

moved {
  from = google_pubsub_topic.dead_letter
  to   = module.notifications.google_pubsub_topic.dead_letter
}

moved {
  from = google_pubsub_subscription.dead_letter
  to   = module.notifications.google_pubsub_subscription.dead_letter
}

moved {
  from = google_pubsub_subscription.push
  to   = module.notifications.google_pubsub_subscription.push
}

moved {
  from = google_pubsub_topic_iam_member.dead_letter_publisher
  to   = module.notifications.google_pubsub_topic_iam_member.dead_letter_publisher
}

moved {
  from = google_pubsub_subscription_iam_member.dead_letter_subscriber
  to   = module.notifications.google_pubsub_subscription_iam_member.dead_letter_subscriber
}

moved {
  from = google_monitoring_alert_policy.dead_letter
  to   = module.notifications.google_monitoring_alert_policy.dead_letter
}
