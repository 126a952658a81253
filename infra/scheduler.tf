# Job functions (e.g. reconcile) run on a schedule: Cloud Scheduler POSTs to the private function
# with an OIDC token of the job's own invoker account, which may invoke that function only.
resource "google_cloud_scheduler_job" "job" {
  for_each = local.job_functions

  name        = "${var.name}-${each.key}"
  description = "Runs the ${each.key} job function."
  region      = coalesce(var.scheduler.region, var.region)
  schedule    = lookup(var.scheduler.schedules, each.key, var.scheduler.default_schedule)
  time_zone   = var.scheduler.time_zone
  # How long Scheduler waits for the run: the function's timeout (Scheduler allows 30 min at most).
  attempt_deadline = "${min(each.value.timeout_seconds, 1800)}s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    # The run's mode is always explicit: the job refuses a body without it.
    body    = base64encode(jsonencode({ dry_run = false }))
    headers = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = local.invoker_accounts[each.key].email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}
