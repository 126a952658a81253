variable "delivery" {
  description = "The topic's id, and how its push subscriptions redeliver before a message goes to the dead-letter topic (var.notifications or var.usage)."
  type = object({
    topic                 = string
    max_delivery_attempts = number
    minimum_backoff       = string
    maximum_backoff       = string
    retention             = string
  })
}

variable "endpoints" {
  description = "Per event function pushed from the topic: its run.app URL, the invoker account the push signs its OIDC token as, and its timeout."
  type = map(object({
    uri             = string
    invoker_email   = string
    timeout_seconds = number
  }))
}

variable "pubsub_agent" {
  description = "The Pub/Sub service agent (IAM member) that moves undeliverable messages."
  type        = string
}

variable "alert" {
  description = "The dead-letter alert: its names, its runbook text (markdown) and who gets it."
  type = object({
    display_name          = string
    condition             = string
    subject               = string
    content               = string
    notification_channels = list(string)
  })
}
