variable "functions" {
  description = "The `functions` map of infra/functions.json (generated from functions/app/registry.py)."
  type = map(object({
    entry_point      = string
    kind             = string
    signature        = string
    public           = bool
    secrets          = list(string)
    optional_secrets = optional(list(string), [])
    settings         = list(string)
    # An event function: the environment variable that names the topic it is pushed from.
    topic = optional(string)
    # How an instance serves, chosen by `make bench` (functions/app/registry.py INSTANCES).
    instance = optional(object({
      concurrency = number
      threads     = number
      workers     = optional(number, 1)
      cpu         = optional(string, "1")
      memory      = optional(string, "512Mi")
    }))
  }))

  validation {
    condition     = alltrue([for fn in var.functions : contains(["browser", "webhook", "event", "job"], fn.kind)])
    error_message = "Every function's kind must be browser, webhook, event or job."
  }

  validation {
    # Only browsers and Stripe call functions from the internet; an event or job function made
    # public would let anyone post fake notifications or start a reconcile.
    condition     = alltrue([for fn in var.functions : fn.public == contains(["browser", "webhook"], fn.kind)])
    error_message = "Exactly the browser and webhook functions are public."
  }

  validation {
    condition     = alltrue([for name, _ in var.functions : can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", name))])
    error_message = "Function names are lowercase letters, digits and dashes (at most 63 characters)."
  }
}

variable "env" {
  description = "Plain (non-secret) settings every function receives, by environment variable name."
  type        = map(string)
  default     = {}
}

variable "upstream_timeouts" {
  description = "How long the functions wait on Stripe and Firestore; passed to them as settings and used to size the HTTP functions' timeout."
  type = object({
    stripe_max_network_retries = number
    stripe_connect_timeout     = number
    stripe_read_timeout        = number
    firestore_timeout_seconds  = number
  })
}

variable "kinds" {
  description = "Overrides of the per-kind sizing and roles in this module's locals.tf (unset fields keep the defaults)."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
    timeout_seconds = optional(number)
    firestore       = optional(bool)
    user_claims     = optional(bool)
  }))
  default = {}

  validation {
    condition     = alltrue([for kind, _ in var.kinds : contains(["browser", "webhook", "event", "job"], kind)])
    error_message = "kinds are keyed by browser, webhook, event or job."
  }
}

variable "enabled_optional_secrets" {
  description = "Optional secrets (a function's `optional_secrets`) that have a value in Secret Manager and so are wired to the functions that take them."
  type        = set(string)
  default     = []
}

variable "name" {
  description = "Prefix of the service account ids."
  type        = string
}

variable "extra_env_keys" {
  description = "The keys of infra/ variable `extra_env`: none may be a setting the configuration sets or computes (configured_env_keys, the timeouts, THREADS)."
  type        = list(string)
  default     = []
}

variable "configured_env_keys" {
  description = "Every setting infra/plan.tf sets or computes, whether set in this deployment or not."
  type        = list(string)
  default     = []
}
