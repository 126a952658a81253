output "topic_id" {
  description = "The topic's full id (projects/.../topics/...)."
  value       = google_pubsub_topic.topic.id
}

output "topic_name" {
  description = "The topic's short name."
  value       = google_pubsub_topic.topic.name
}

output "dead_letter_subscription" {
  description = "Where undeliverable messages wait (pull them to inspect or replay)."
  value       = google_pubsub_subscription.dead_letter.name
}
