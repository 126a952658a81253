# Everything that is computed rather than created lives here and in modules/function-plan: no
# provider is involved, so tests/infra evaluate this file with `terraform apply` offline (on the
# real functions.json and on fixtures with every kind of function). The two values that come
# from Stripe (offered_price_ids, portal_configuration_id) are locals of stripe.tf, which the
# tests stand in for.

# What to deploy comes from the code: functions.json is generated from functions/app/registry.py
# (`make infra-manifest`; a test fails when the two drift). Every function, its kind, its
# settings and secrets are read from it; nothing here names a function.
locals {
  manifest = jsondecode(file("${path.module}/functions.json"))
  labels   = merge(var.labels, { app = var.name, managed-by = "terraform" })

  # Every setting this configuration sets or computes (the offered prices, the portal
  # configuration, the origins...). Optional ones left unset are not passed, so the code's
  # defaults apply.
  settings_env_all = {
    ALLOWED_ORIGINS                  = join(",", var.settings.allowed_origins)
    ALLOWED_PRICE_IDS                = join(",", local.offered_price_ids)
    METERED_PRICE_IDS                = length(local.metered_price_ids) == 0 ? null : join(",", [for plan, metered in local.metered_price_ids : "${plan}=${join("+", metered)}"])
    PORTAL_CONFIGURATION_ID          = local.portal_configuration_id
    STRIPE_MODE                      = var.stripe.mode
    TRIAL_DAYS                       = var.settings.trial_days == null ? null : tostring(var.settings.trial_days)
    REQUIRE_VERIFIED_EMAIL           = var.settings.require_verified_email == null ? null : tostring(var.settings.require_verified_email)
    ACCESS_STATUSES                  = var.settings.access_statuses == null ? null : join(",", var.settings.access_statuses)
    PAST_DUE_GRACE_DAYS              = var.settings.past_due_grace_days == null ? null : tostring(var.settings.past_due_grace_days)
    DOWNGRADE_POLICY                 = var.settings.downgrade_policy
    MAX_BODY_BYTES                   = var.settings.max_body_bytes == null ? null : tostring(var.settings.max_body_bytes)
    MAX_WEBHOOK_BODY_BYTES           = var.settings.max_webhook_body_bytes == null ? null : tostring(var.settings.max_webhook_body_bytes)
    STRIPE_WEBHOOK_TOLERANCE_SECONDS = var.settings.stripe_webhook_tolerance_seconds == null ? null : tostring(var.settings.stripe_webhook_tolerance_seconds)
    LOG_LEVEL                        = var.settings.log_level
    CHECKOUT_SUCCESS_URL             = var.settings.checkout_success_url
    CHECKOUT_CANCEL_URL              = var.settings.checkout_cancel_url
    PORTAL_RETURN_URL                = var.settings.portal_return_url
    SMTP_HOST                        = var.mail.smtp_host
    SMTP_PORT                        = var.mail.smtp_port == null ? null : tostring(var.mail.smtp_port)
    SMTP_SECURITY                    = var.mail.smtp_security
    SMTP_USERNAME                    = var.mail.smtp_username
    MAIL_FROM                        = var.mail.mail_from
    MAIL_FROM_NAME                   = var.mail.mail_from_name
    MAIL_REPLY_TO                    = var.mail.mail_reply_to
    SUPPORT_EMAIL                    = var.mail.support_email
    PRODUCT_NAME                     = var.mail.product_name
    APP_URL                          = var.mail.app_url
    BILLING_URL                      = var.mail.billing_url
    MAIL_LOCALE                      = var.mail.mail_locale
  }
  settings_env = { for key, value in local.settings_env_all : key => value if value != null && value != "" }
  fixed_env = {
    # 2nd gen functions are not given the project id; Settings requires it (ID tokens are checked
    # against it).
    GOOGLE_CLOUD_PROJECT = var.project_id
    NOTIFICATIONS_TOPIC  = var.notifications.topic
    USAGE_TOPIC          = var.usage.topic
  }

  # extra_env adds settings this file does not name yet; it may never replace one it does (the
  # catalog's ALLOWED_PRICE_IDS, the portal configuration, the origins): module.plan refuses
  # those keys by name.
  env                 = merge(local.settings_env, var.extra_env, local.fixed_env)
  configured_env_keys = concat(keys(local.settings_env_all), keys(local.fixed_env))

  # The one catalog (functions/billing/catalog/catalog.json) and the webhook function, whose
  # address and handled events (functions.json, generated from the code) stripe.tf registers.
  catalog          = jsondecode(file("${path.module}/../functions/billing/catalog/catalog.json"))
  webhook_function = one([for name, fn in local.functions : name if fn.kind == "webhook"])
  # A 2nd gen function's cloudfunctions.net address is known before it exists; using it (not the
  # function's `url` attribute) lets the function's revision depend on the signing secret.
  webhook_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.webhook_function}"

  functions         = module.plan.functions
  public_functions  = { for name, fn in local.functions : name => fn if fn.public }
  private_functions = { for name, fn in local.functions : name => fn if !fn.public }
  event_functions   = { for name, fn in local.functions : name => fn if fn.kind == "event" }
  # Each event function is pushed from one topic: notifications (pubsub.tf) or usage (usage.tf).
  notification_functions = { for name, fn in local.event_functions : name => fn if fn.topic == "NOTIFICATIONS_TOPIC" }
  usage_functions        = { for name, fn in local.event_functions : name => fn if fn.topic == "USAGE_TOPIC" }
  job_functions          = { for name, fn in local.functions : name => fn if fn.kind == "job" }
}

# What the catalog makes in Stripe (stripe.tf iterates over these maps), computed without any
# provider so the tests can evaluate it offline.
module "catalog" {
  source  = "./modules/stripe-catalog"
  catalog = local.catalog
}

# Per function: entry point, sizing, timeout, env, secrets and roles, computed without any
# provider so the tests can evaluate it offline.
module "plan" {
  source = "./modules/function-plan"

  functions                = local.manifest.functions
  env                      = local.env
  upstream_timeouts        = var.upstream_timeouts
  kinds                    = var.kinds
  enabled_optional_secrets = var.optional_secrets
  name                     = var.name
  extra_env_keys           = keys(var.extra_env)
  configured_env_keys      = local.configured_env_keys
}

# The deployable source: the package in functions/ (main.py at its root) plus the
# runtime requirements.txt, which Cloud Build installs. Caches and dotfiles stay out.
locals {
  source_dir = "${path.module}/../functions"
  source_files = sort([
    for file in fileset(local.source_dir, "**") : file
    if !can(regex("(^|/)(__pycache__|\\.)", file)) && !endswith(file, ".pyc")
  ])

  # What source.tf zips: those files staged with requirements.txt and each module's bytecode
  # for the runtime (`make infra-source`, tools/build_source.py), so a cold instance loads
  # compiled code instead of compiling every module first. Planning from a missing or stale
  # staging would deploy old code: every difference is listed here and refuses the plan.
  source_build_dir   = "${path.module}/.build/source"
  source_build_files = fileset(local.source_build_dir, "**")
  source_build_expected = merge(
    { for file in local.source_files : file => "${local.source_dir}/${file}" },
    { "requirements.txt" = "${path.module}/../requirements.txt" },
  )
  source_build_bytecode = toset([
    for file in local.source_files :
    "${dirname(file) == "." ? "" : "${dirname(file)}/"}__pycache__/${trimsuffix(basename(file), ".py")}.cpython-312.pyc"
    if endswith(file, ".py")
  ])
  source_build_problems = sort(concat(
    [
      for file, original in local.source_build_expected :
      "${file} is missing" if !contains(local.source_build_files, file)
    ],
    [
      for file, original in local.source_build_expected :
      "${file} differs from the repository's" if contains(local.source_build_files, file) && try(filesha256("${local.source_build_dir}/${file}"), "") != filesha256(original)
    ],
    [for file in local.source_build_bytecode : "${file} (bytecode) is missing" if !contains(local.source_build_files, file)],
    [
      for file in local.source_build_files : "${file} is not in the repository"
      if !contains(keys(local.source_build_expected), file) && !contains(local.source_build_bytecode, file)
    ],
  ))
}

