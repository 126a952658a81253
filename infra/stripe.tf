# Stripe, configured by the same apply as Google Cloud, with the official provider (stripe/stripe,
# pinned in versions.tf). Everything the app sells comes from the one catalog file that the
# functions and the local stand-in read too (module.catalog, in plan.tf); nothing here names a
# product or a price.
#
# One state per mode: test mode and live mode are two deployments of this same code, each with
# its own Google project, state prefix, tfvars and Stripe key (docs/deploy.md, "Test mode and
# live mode"); stripe.mode, the key's prefix and the project's stripe-mode label must agree.
locals {
  # What the functions are told: the ids Stripe gave this mode's offered prices and portal.
  offered_price_ids = [for key in module.catalog.offered_prices : stripe_price.price[key].id]
  # Each plan's metered prices, by Stripe id (METERED_PRICE_IDS).
  metered_price_ids = {
    for key, price in module.catalog.prices : stripe_price.price[key].id => [
      for metered in price.metered_prices : stripe_price.price[metered].id
    ] if length(price.metered_prices) > 0
  }
  portal_configuration_id = stripe_billing_portal_configuration.portal.id

  # The webhook function's revision pins the secret version this apply wrote, so rolling the
  # signing secret redeploys it (instances read secrets only when they start).
  pinned_secret_versions = {
    STRIPE_WEBHOOK_SECRETS = google_secret_manager_secret_version.stripe_webhook.version
  }
}

resource "stripe_entitlements_feature" "feature" {
  for_each = module.catalog.features

  name       = each.value.name
  lookup_key = each.value.lookup_key
  metadata   = { catalog_key = each.key, managed_by = "terraform" }
}

resource "stripe_product" "product" {
  for_each = module.catalog.products

  name        = each.value.name
  description = each.value.description
  type        = "service"
  metadata    = { catalog_key = each.key, managed_by = "terraform" }
}

resource "stripe_product_feature" "feature" {
  for_each = module.catalog.product_features

  product             = stripe_product.product[each.value.product].id
  entitlement_feature = stripe_entitlements_feature.feature[each.value.feature].id
}

# Usage-based prices bill from a meter (none yet: the catalog's `meters` is where they go).
resource "stripe_billing_meter" "meter" {
  for_each = module.catalog.meters

  display_name = each.value.display_name
  event_name   = each.value.event_name

  default_aggregation {
    formula = each.value.aggregation
  }

  customer_mapping {
    type              = "by_id"
    event_payload_key = each.value.customer_payload_key
  }

  value_settings {
    event_payload_key = each.value.value_payload_key
  }
}

# A price cannot change its amount or interval in Stripe: a change makes a new price, which takes
# the lookup key over (transfer_lookup_key) before the old one is archived. Subscriptions on the
# old price keep it; the functions sell the new id from this apply on.
resource "stripe_price" "price" {
  for_each = module.catalog.prices

  product             = stripe_product.product[each.value.product].id
  currency            = each.value.currency
  unit_amount         = each.value.unit_amount
  billing_scheme      = length(each.value.tiers) == 0 ? null : "tiered"
  tiers_mode          = length(each.value.tiers) == 0 ? null : "graduated"
  nickname            = each.value.nickname
  lookup_key          = each.key
  transfer_lookup_key = true
  metadata            = { offered = tostring(each.value.offered), managed_by = "terraform" }

  dynamic "recurring" {
    for_each = each.value.interval == null ? [] : [each.value]
    content {
      interval       = recurring.value.interval
      interval_count = recurring.value.interval_count
      usage_type     = recurring.value.usage_type
      meter          = recurring.value.meter == null ? null : stripe_billing_meter.meter[recurring.value.meter].id
    }
  }

  # https://docs.stripe.com/products-prices/pricing-models#graduated-pricing: the first tier is
  # the plan's quota at 0, the next bills each unit beyond it.
  dynamic "tiers" {
    for_each = each.value.tiers
    content {
      up_to       = tiers.value.up_to
      unit_amount = tiers.value.unit_amount
    }
  }

  lifecycle {
    create_before_destroy = true

    # Each mode must talk to its own Stripe: the prices Stripe returns say which mode they live
    # in, and one in the other mode stops the apply here, before any function is given it.
    postcondition {
      condition     = self.livemode == (var.stripe.mode == "live")
      error_message = "The Stripe key is not a ${var.stripe.mode} mode key: the price was created in the other mode."
    }
  }
}

resource "stripe_coupon" "coupon" {
  for_each = module.catalog.coupons

  name               = each.value.name
  percent_off        = each.value.percent_off
  amount_off         = each.value.amount_off
  currency           = each.value.currency
  duration           = each.value.duration
  duration_in_months = each.value.duration_in_months
  max_redemptions    = each.value.max_redemptions
  metadata           = { catalog_key = each.key, managed_by = "terraform" }

  dynamic "applies_to" {
    for_each = length(each.value.applies_to) == 0 ? [] : [each.value.applies_to]
    content {
      products = [for product in applies_to.value : stripe_product.product[product].id]
    }
  }
}

resource "stripe_promotion_code" "code" {
  for_each = module.catalog.promotion_codes

  code            = each.key
  active          = true
  max_redemptions = each.value.max_redemptions
  metadata        = { managed_by = "terraform" }

  promotion {
    type   = "coupon"
    coupon = stripe_coupon.coupon[each.value.coupon].id
  }

  dynamic "restrictions" {
    for_each = each.value.first_time_transaction == null ? [] : [each.value]
    content {
      first_time_transaction = restrictions.value.first_time_transaction
    }
  }
}

# The billing portal: a portal session needs a saved configuration, and this one lets customers
# switch only among the catalog's plan_switches (offered prices), cancel at period end, update
# their card and read their invoices. create-portal-session passes its id (PORTAL_CONFIGURATION_ID).
resource "stripe_billing_portal_configuration" "portal" {
  name               = "${var.name}: ${var.stripe.mode} mode (infra/stripe.tf)"
  active             = true
  default_return_url = var.settings.portal_return_url

  business_profile = {
    headline             = var.stripe.portal_headline
    privacy_policy_url   = var.stripe.privacy_policy_url
    terms_of_service_url = var.stripe.terms_of_service_url
  }

  features = {
    invoice_history       = { enabled = true }
    payment_method_update = { enabled = true }
    customer_update       = { enabled = true, allowed_updates = ["address", "name", "tax_id"] }
    subscription_cancel = {
      enabled            = true
      mode               = module.catalog.portal.cancel_mode
      proration_behavior = "none"
    }
    subscription_update = {
      enabled                 = length(module.catalog.portal.products) > 0
      default_allowed_updates = ["price"]
      proration_behavior      = module.catalog.portal.proration_behavior
      products = [
        for entry in module.catalog.portal.products : {
          product = stripe_product.product[entry.product].id
          prices  = [for key in entry.prices : stripe_price.price[key].id]
        }
      ]
    }
  }
}

# The endpoint Stripe posts events to. One endpoint per entry of stripe.webhook_generations:
# rolling the signing secret is adding a generation (both endpoints deliver, both secrets are
# accepted, the inbox drops the duplicate deliveries), then removing the old one once the new
# revision serves (docs/deploy.md, "Rolling the webhook signing secret").
resource "stripe_webhook_endpoint" "billing" {
  for_each = toset(var.stripe.webhook_generations)

  url            = local.webhook_url
  enabled_events = local.manifest.stripe.webhook_events
  api_version    = local.manifest.stripe.api_version
  description    = "${var.name} ${var.stripe.mode} mode, generation ${each.key}: entitlements and notifications (infra/stripe.tf)"
  metadata       = { generation = each.key, managed_by = "terraform" }

  lifecycle {
    create_before_destroy = true
  }
}

# Stripe returns an endpoint's signing secret only when it creates the endpoint: it goes from
# there straight into Secret Manager as a new version of STRIPE_WEBHOOK_SECRETS, every live
# generation's secret comma-separated (the webhook accepts any of them). Write-only: the value
# is not kept in this resource's state (the provider keeps the endpoint's `secret` in its own
# state, which is why only the deployer may read the state: docs/deploy.md).
resource "google_secret_manager_secret_version" "stripe_webhook" {
  secret         = "projects/${var.project_id}/secrets/${local.secret_ids["STRIPE_WEBHOOK_SECRETS"]}"
  secret_data_wo = join(",", [for generation in reverse(sort(var.stripe.webhook_generations)) : stripe_webhook_endpoint.billing[generation].secret])
  # A new endpoint (or one fewer) is a new version: the endpoints' creation times change with both.
  secret_data_wo_version = sum([for endpoint in stripe_webhook_endpoint.billing : endpoint.created])
  deletion_policy        = "DISABLE"

  lifecycle {
    create_before_destroy = true
  }
}
