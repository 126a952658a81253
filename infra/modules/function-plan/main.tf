locals {
  # ---------------------------------------------------------------------------------------------
  # Timeouts, from the same values the functions receive as settings (so the two cannot disagree).
  #
  # One Stripe call, at worst: every attempt connects in just under the connect timeout and then
  # waits the whole read timeout, and stripe-python sleeps min(0.5 * 2^(n-1), 5) seconds before
  # its n-th retry (stripe/_http_client.py, INITIAL_DELAY and MAX_DELAY; jitter only shortens it).
  # With the defaults (2 retries, 5 s, 30 s): 3 * 35 + 0.5 + 1 = 106.5 s.
  t                 = var.upstream_timeouts
  stripe_attempts   = local.t.stripe_max_network_retries + 1
  stripe_backoff    = sum(concat([0], [for n in range(1, local.stripe_attempts) : min(0.5 * pow(2, n - 1), 5)]))
  stripe_worst_case = local.stripe_attempts * (local.t.stripe_connect_timeout + local.t.stripe_read_timeout) + local.stripe_backoff

  # An HTTP function's timeout covers that call, the Firestore calls around it (an operation
  # makes at most three, each bounded by FIRESTORE_TIMEOUT_SECONDS, retries included) and 10 s to
  # answer, so a hanging Stripe ends in our 503 with Retry-After, not in the platform's 504.
  # Defaults: ceil(106.5 + 3 * 10 + 10) = 147 s. A request that makes several Stripe calls that
  # are each slow but succeed can still outlast it; that is a slow Stripe, not a hanging one.
  http_timeout_seconds = ceil(local.stripe_worst_case + 3 * local.t.firestore_timeout_seconds + 10)

  upstream_env = {
    STRIPE_MAX_NETWORK_RETRIES = tostring(local.t.stripe_max_network_retries)
    STRIPE_CONNECT_TIMEOUT     = tostring(local.t.stripe_connect_timeout)
    STRIPE_READ_TIMEOUT        = tostring(local.t.stripe_read_timeout)
    FIRESTORE_TIMEOUT_SECONDS  = tostring(local.t.firestore_timeout_seconds)
  }

  # ---------------------------------------------------------------------------------------------
  # Sizing and roles per kind: the one place these deployment knobs live (var.kinds overrides).
  #
  # Measured: one instance of any function holds about 80 MiB once its client libraries are
  # loaded (ru_maxrss after importing main.py and stripe, google-cloud-firestore, firebase-admin).
  # 512Mi leaves room for 8 threads' requests and responses (bodies are capped at 16 KiB).
  # Concurrency above 1 needs a whole vCPU; functions-framework runs gunicorn with THREADS
  # threads, so THREADS is set to the concurrency (Google's advice for Python).
  kind_defaults = {
    # The frontend's operations: almost all their time is spent waiting on Stripe and Firestore,
    # so 8 concurrent requests share one vCPU well. min 0: scale to zero (a cold start is the
    # import of one operation's modules). max 10 (80 requests in flight) keeps a burst within
    # Stripe's default rate limit of 100 requests per second in live mode.
    browser = {
      memory          = "512Mi"
      cpu             = "1"
      concurrency     = 8
      min_instances   = 0
      max_instances   = 10
      timeout_seconds = local.http_timeout_seconds
      firestore       = true
      publishes       = false
      user_claims     = false
    }
    # Stripe's deliveries: same profile as the browser calls (verify, claim, re-read from Stripe,
    # write). max 5: a burst of events (a price migration) queues as 429s that Stripe retries for
    # days, rather than becoming a burst of Stripe re-reads. It publishes the notifications.
    webhook = {
      memory          = "512Mi"
      cpu             = "1"
      concurrency     = 8
      min_instances   = 0
      max_instances   = 5
      timeout_seconds = local.http_timeout_seconds
      firestore       = true
      publishes       = true
      user_claims     = true
    }
    # The email function, pushed by Pub/Sub: SMTP relays limit concurrent connections, so at
    # most 3 x 4 sends at once; Pub/Sub backs off when it answers 429. 120 s covers the dedupe
    # claim in Firestore and an SMTP connect and send with their own timeouts; it is also the
    # push subscription's ack deadline.
    event = {
      memory          = "512Mi"
      cpu             = "1"
      concurrency     = 4
      min_instances   = 0
      max_instances   = 3
      timeout_seconds = 120
      firestore       = true
      publishes       = false
      user_claims     = false
    }
    # Scheduled jobs (reconcile): one run at a time (max 1, concurrency 1) so two runs never
    # race over the same customers; 1800 s is the longest attempt Cloud Scheduler waits for.
    # Reconcile only re-syncs entitlements: it publishes nothing. The webhook and the job write
    # the entitlement into each user's ID token (a custom claim): Firebase Auth user admin.
    job = {
      memory          = "512Mi"
      cpu             = "1"
      concurrency     = 1
      min_instances   = 0
      max_instances   = 1
      timeout_seconds = 1800
      firestore       = true
      publishes       = false
      user_claims     = true
    }
  }
  sizing = {
    for kind, d in local.kind_defaults : kind => {
      memory          = coalesce(try(var.kinds[kind].memory, null), d.memory)
      cpu             = coalesce(try(var.kinds[kind].cpu, null), d.cpu)
      concurrency     = coalesce(try(var.kinds[kind].concurrency, null), d.concurrency)
      min_instances   = coalesce(try(var.kinds[kind].min_instances, null), d.min_instances)
      max_instances   = coalesce(try(var.kinds[kind].max_instances, null), d.max_instances)
      timeout_seconds = coalesce(try(var.kinds[kind].timeout_seconds, null), d.timeout_seconds)
      firestore       = coalesce(try(var.kinds[kind].firestore, null), d.firestore)
      # Not a knob: only the webhook publishes notifications (the email function trusts its
      # topic only as far as its publishers; docs/emails.md says what one could do).
      publishes   = d.publishes
      user_claims = coalesce(try(var.kinds[kind].user_claims, null), d.user_claims)
    }
  }

  concurrency = {
    for name, fn in var.functions : name => coalesce(
      try(var.kinds[fn.kind].concurrency, null), try(fn.instance.concurrency, null), local.sizing[fn.kind].concurrency
    )
  }

  # Settings that only make sense on a developer's machine; none may reach a deployed function.
  local_only_settings = ["FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "STRIPE_API_BASE", "JOB_TOKEN_PUBLIC_KEY"]

  functions = {
    for name, fn in var.functions : name => {
      entry_point = fn.entry_point
      kind        = fn.kind
      public      = fn.public
      # Pub/Sub and Cloud Scheduler in the same project count as internal traffic.
      ingress = fn.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
      # The registry's measured instance settings, unless var.kinds overrides them.
      memory          = coalesce(try(var.kinds[fn.kind].memory, null), try(fn.instance.memory, null), local.sizing[fn.kind].memory)
      cpu             = coalesce(try(var.kinds[fn.kind].cpu, null), try(fn.instance.cpu, null), local.sizing[fn.kind].cpu)
      concurrency     = local.concurrency[name]
      min_instances   = local.sizing[fn.kind].min_instances
      max_instances   = local.sizing[fn.kind].max_instances
      timeout_seconds = local.sizing[fn.kind].timeout_seconds
      firestore       = local.sizing[fn.kind].firestore
      publishes       = local.sizing[fn.kind].publishes
      user_claims     = local.sizing[fn.kind].user_claims
      settings        = fn.settings
      topic           = fn.kind == "event" ? coalesce(fn.topic, "NOTIFICATIONS_TOPIC") : null
      env = merge(var.env, local.upstream_env, {
        # One gunicorn thread per concurrent request at least (more for a job's own calls).
        THREADS = tostring(max(local.concurrency[name], try(fn.instance.threads, 0)))
        }, fn.kind != "job" ? {} : {
        # The one account whose OIDC token may start the job: its Cloud Scheduler invoker.
        JOB_INVOKER_EMAIL = "${module.account_ids.invoker[name]}@${lookup(var.env, "GOOGLE_CLOUD_PROJECT", "")}.iam.gserviceaccount.com"
      })
      secrets = sort(distinct(concat(
        fn.secrets,
        [for secret in fn.optional_secrets : secret if contains(var.enabled_optional_secrets, secret)],
      )))
      service_account_id = module.account_ids.runtime[name]
      # The identity Pub/Sub (event) or Cloud Scheduler (job) calls a private function as.
      invoker_account_id = fn.public ? null : module.account_ids.invoker[name]
    }
  }

  # extra_env may add settings, never replace one the configuration sets or computes.
  extra_env_overrides = sort(setintersection(
    var.extra_env_keys,
    concat(var.configured_env_keys, keys(local.upstream_env), ["THREADS"]),
  ))

  secret_bindings = merge([
    for name, fn in local.functions : {
      for secret in fn.secrets : "${name}/${secret}" => { function = name, secret = secret }
    }
  ]...)
  all_secrets = sort(distinct(flatten([
    for fn in var.functions : concat(fn.secrets, fn.optional_secrets)
  ])))
  missing_settings = sort(flatten([
    for name, fn in local.functions : [
      for setting in fn.settings : "${name} needs ${setting}"
      if !contains(keys(fn.env), setting) && !contains(fn.secrets, setting)
    ]
  ]))
  local_only_found = sort(flatten([
    for name, fn in local.functions : [for key in keys(fn.env) : "${name}: ${key}" if contains(local.local_only_settings, key)]
  ]))
}

module "account_ids" {
  source = "../account-ids"

  name      = var.name
  functions = { for name, fn in var.functions : name => { public = fn.public, secrets = fn.secrets, optional_secrets = fn.optional_secrets } }
}
