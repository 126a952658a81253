variable "project_id" {
  description = "The Google Cloud (and Firebase) project to deploy into; ID tokens must be issued for it."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id is a Google Cloud project id: 6-30 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions and the scheduler jobs; the source bucket and the build repository infra/bootstrap makes are in it too (give the bootstrap the same region)."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region is a Cloud Functions region such as europe-west1 or us-central1."
  }
}

variable "name" {
  description = "Short prefix of the topics and alerts this creates and of the accounts, secrets, source bucket and image repository infra/bootstrap makes (give the bootstrap the same name); not of the functions, whose names come from the registry."
  type        = string
  default     = "billing"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name))
    error_message = "name is 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "settings" {
  description = <<-EOT
    The functions' plain settings (docs/configuration.md and .env.example document each). An unset optional
    one is not passed at all, so the code's default applies.
  EOT
  type = object({
    allowed_origins                  = list(string)
    trial_days                       = optional(number)
    require_verified_email           = optional(bool)
    access_statuses                  = optional(list(string))
    past_due_grace_days              = optional(number)
    downgrade_policy                 = optional(string)
    max_body_bytes                   = optional(number)
    max_webhook_body_bytes           = optional(number)
    stripe_webhook_tolerance_seconds = optional(number)
    log_level                        = optional(string)
    checkout_success_url             = optional(string)
    checkout_cancel_url              = optional(string)
    portal_return_url                = string
  })

  validation {
    condition     = alltrue([for origin in var.settings.allowed_origins : can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", origin))])
    error_message = "settings.allowed_origins are origins such as https://app.example.com (no path, no '*')."
  }
  validation {
    condition     = var.settings.log_level == null || contains(["DEBUG", "INFO", "WARNING", "ERROR"], coalesce(var.settings.log_level, "INFO"))
    error_message = "settings.log_level is DEBUG, INFO, WARNING or ERROR."
  }
  validation {
    # Where Stripe's hosted pages send the customer back: the app's own https pages.
    condition = alltrue([
      for url in [var.settings.checkout_success_url, var.settings.checkout_cancel_url, var.settings.portal_return_url] :
      url == null || can(regex("^https://[^\\s]+$", coalesce(url, "https://x")))
    ])
    error_message = "settings.checkout_success_url, checkout_cancel_url and portal_return_url are https URLs of the app."
  }
  validation {
    condition     = var.settings.downgrade_policy == null || contains(["immediately", "period_end"], coalesce(var.settings.downgrade_policy, "immediately"))
    error_message = "settings.downgrade_policy is immediately or period_end."
  }
  validation {
    condition     = var.settings.trial_days == null || (coalesce(var.settings.trial_days, 0) >= 0 && coalesce(var.settings.trial_days, 0) <= 730)
    error_message = "settings.trial_days is between 0 and 730."
  }
}

variable "stripe" {
  description = <<-EOT
    Which Stripe mode this deployment is (one state, tfvars and Google project per mode), the
    webhook endpoint generations (add one to roll the signing secret, then remove the old one)
    and what the billing portal shows. What is sold comes from the catalog file, not from here.
  EOT
  type = object({
    mode                 = string
    webhook_generations  = optional(list(string), ["1"])
    portal_headline      = optional(string)
    privacy_policy_url   = optional(string)
    terms_of_service_url = optional(string)
  })

  validation {
    condition     = contains(["test", "live"], var.stripe.mode)
    error_message = "stripe.mode is test or live."
  }
  validation {
    # Two during a roll, never none: the webhook would get no events.
    condition = (
      length(var.stripe.webhook_generations) >= 1 && length(var.stripe.webhook_generations) <= 2
      && length(distinct(var.stripe.webhook_generations)) == length(var.stripe.webhook_generations)
      && alltrue([for generation in var.stripe.webhook_generations : can(regex("^[0-9]{1,6}$", generation))])
    )
    error_message = "stripe.webhook_generations holds one or two distinct generation numbers (two only while rolling the signing secret)."
  }
  validation {
    condition = alltrue([
      for url in [var.stripe.privacy_policy_url, var.stripe.terms_of_service_url] :
      url == null || can(regex("^https://[^\\s]+$", coalesce(url, "https://x")))
    ])
    error_message = "stripe.privacy_policy_url and stripe.terms_of_service_url are https URLs."
  }
}

variable "stripe_api_key" {
  description = <<-EOT
    The key Terraform manages this mode's Stripe catalog, portal and webhook endpoint with: a
    restricted key (rk_test_/rk_live_) with write access to Products, Prices, Coupons, Promotion
    codes, Entitlements, Billing meters, Customer portal and Webhook endpoints. Set it as
    TF_VAR_stripe_api_key (the build reads it from Secret Manager); never in a file.
  EOT
  type        = string
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = can(regex("^(sk|rk)_${var.stripe.mode}_[A-Za-z0-9]+$", var.stripe_api_key))
    error_message = "stripe_api_key must be a ${var.stripe.mode} mode key (sk_${var.stripe.mode}_ or rk_${var.stripe.mode}_): a deployment never manages the other mode."
  }
}

variable "mail" {
  description = <<-EOT
    The email function's plain settings (docs/emails.md and .env.example document each): the relay
    and what the mails say. SMTP_PASSWORD is a secret (optional_secrets), never set here.
  EOT
  type = object({
    smtp_host      = string
    smtp_port      = optional(number)
    smtp_security  = optional(string)
    smtp_username  = optional(string)
    mail_from      = string
    mail_from_name = optional(string)
    mail_reply_to  = optional(string)
    support_email  = optional(string)
    product_name   = string
    app_url        = string
    billing_url    = optional(string)
    mail_locale    = optional(string)
  })

  validation {
    condition     = var.mail.smtp_security == null || contains(["starttls", "ssl", "none"], coalesce(var.mail.smtp_security, "starttls"))
    error_message = "mail.smtp_security is starttls, ssl or none (none only for a relay on a private network)."
  }
  validation {
    condition     = can(regex("^https://", var.mail.app_url)) && (var.mail.billing_url == null || can(regex("^https://", coalesce(var.mail.billing_url, "https://x"))))
    error_message = "mail.app_url and mail.billing_url are https URLs: every mail links to them."
  }
}

variable "extra_env" {
  description = "Further plain settings by environment variable name, for settings functions gain before this file names them (e.g. the email function's sender and SMTP host). Never secrets, never local-only settings."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, _ in var.extra_env : can(regex("^[A-Z][A-Z0-9_]*$", key))])
    error_message = "extra_env keys are environment variable names (A-Z, 0-9, _)."
  }
  validation {
    # Secrets travel through Secret Manager only; an emulator host or the Stripe stand-in would
    # make a deployed function trust unsigned tokens or talk to a fake Stripe.
    condition = alltrue([
      for key, _ in var.extra_env : !can(regex("(_EMULATOR_HOST$|^STRIPE_API_BASE$|SECRET|PASSWORD|_KEY$)", key))
    ])
    error_message = "extra_env may not set secrets (*SECRET*, *PASSWORD, *_KEY) or local-only settings (*_EMULATOR_HOST, STRIPE_API_BASE)."
  }
}

variable "upstream_timeouts" {
  description = <<-EOT
    Stripe's retries and timeouts and Firestore's per-call deadline. Passed to the functions as
    STRIPE_MAX_NETWORK_RETRIES, STRIPE_CONNECT_TIMEOUT, STRIPE_READ_TIMEOUT and
    FIRESTORE_TIMEOUT_SECONDS, and used to size the HTTP functions' timeout, so the two always
    agree. The defaults are the code's (tests/infra check that they stay equal).
  EOT
  type = object({
    stripe_max_network_retries = optional(number, 2)
    stripe_connect_timeout     = optional(number, 5)
    stripe_read_timeout        = optional(number, 30)
    firestore_timeout_seconds  = optional(number, 10)
  })
  default = {}

  validation {
    # The bounds of functions/billing/config.py: a value it refuses would stop every instance.
    condition = (
      var.upstream_timeouts.stripe_max_network_retries >= 0 && var.upstream_timeouts.stripe_max_network_retries <= 5
      && var.upstream_timeouts.stripe_connect_timeout > 0 && var.upstream_timeouts.stripe_connect_timeout <= 30
      && var.upstream_timeouts.stripe_read_timeout > 0 && var.upstream_timeouts.stripe_read_timeout <= 80
      && var.upstream_timeouts.firestore_timeout_seconds > 0 && var.upstream_timeouts.firestore_timeout_seconds <= 60
    )
    error_message = "upstream_timeouts: retries 0-5, connect timeout (0, 30], read timeout (0, 80], Firestore timeout (0, 60]."
  }
}

variable "kinds" {
  description = "Overrides of the per-kind sizing (memory, cpu, concurrency, instances, timeout) and roles set in modules/function-plan/main.tf, keyed by browser, webhook, event or job. min_instances: instances of each function of that kind kept warm (default 0, scale to zero); e.g. { browser = { min_instances = 1 } } spares users the cold start of every browser function, at the idle cost per function that docs/performance.md estimates."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
    timeout_seconds = optional(number)
    firestore       = optional(bool)
  }))
  default = {}
}

variable "optional_secrets" {
  description = "Optional secrets (listed under a function's optional_secrets in functions.json, e.g. SMTP credentials) that you have added a value to: only these are wired to their functions."
  type        = set(string)
  default     = []
}

variable "firestore" {
  description = "The Firestore database (the project's (default) one, which the functions and the rules use)."
  type = object({
    location_id            = optional(string, "eur3")
    point_in_time_recovery = optional(bool, true)
    delete_protection      = optional(bool, true)
  })
  default = {}
}

variable "notifications" {
  description = "The notifications topic (NOTIFICATIONS_TOPIC) and how its push subscriptions redeliver before a message goes to the dead-letter topic."
  type = object({
    topic                 = optional(string, "billing-notifications")
    max_delivery_attempts = optional(number, 10)
    minimum_backoff       = optional(string, "10s")
    maximum_backoff       = optional(string, "600s")
    retention             = optional(string, "604800s")
  })
  default = {}

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,200}$", var.notifications.topic))
    error_message = "notifications.topic is a Pub/Sub topic id (3+ characters, starting with a letter)."
  }
  validation {
    condition     = var.notifications.max_delivery_attempts >= 5 && var.notifications.max_delivery_attempts <= 100
    error_message = "notifications.max_delivery_attempts is between 5 and 100 (Pub/Sub's bounds)."
  }
}

variable "usage" {
  description = "The usage topic (USAGE_TOPIC) the app's backends report metered usage to, how its push subscription redelivers to the metering function before a message goes to the dead-letter topic, and who may publish to it."
  type = object({
    topic                 = optional(string, "billing-usage")
    max_delivery_attempts = optional(number, 20)
    minimum_backoff       = optional(string, "10s")
    maximum_backoff       = optional(string, "600s")
    retention             = optional(string, "604800s")
    # The app's backends (service accounts, as IAM members) that report usage.
    publishers = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,200}$", var.usage.topic))
    error_message = "usage.topic is a Pub/Sub topic id (3+ characters, starting with a letter)."
  }
  validation {
    condition     = var.usage.max_delivery_attempts >= 5 && var.usage.max_delivery_attempts <= 100
    error_message = "usage.max_delivery_attempts is between 5 and 100 (Pub/Sub's bounds)."
  }
}

variable "scheduler" {
  description = "When Cloud Scheduler calls each job function (cron, in time_zone); a job without an entry in schedules runs on default_schedule."
  type = object({
    default_schedule = optional(string, "17 3 * * *")
    schedules        = optional(map(string), {})
    time_zone        = optional(string, "Etc/UTC")
    region           = optional(string)
  })
  default = {}
}

variable "alert_emails" {
  description = "Addresses that get the dead-letter alert (an email notification channel each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "alert_emails are email addresses."
  }
}

variable "alert_notification_channels" {
  description = "Existing Cloud Monitoring notification channel ids (projects/.../notificationChannels/...) that also get the dead-letter alert."
  type        = list(string)
  default     = []
}
