locals {
  features = {
    for key, feature in var.catalog.features : key => {
      name       = feature.name
      lookup_key = key
    }
  }

  products = {
    for key, product in var.catalog.products : key => {
      name        = product.name
      description = try(product.description, null)
      features    = try(product.features, [])
    }
  }

  # One attachment per (product, feature): Stripe's product features.
  product_features = merge([
    for key, product in local.products : {
      for feature in product.features : "${key}/${feature}" => { product = key, feature = feature }
    }
  ]...)

  meters = {
    for key, meter in try(var.catalog.meters, {}) : key => {
      display_name         = meter.display_name
      event_name           = meter.event_name
      aggregation          = try(meter.aggregation, "sum")
      customer_payload_key = try(meter.customer_payload_key, "stripe_customer_id")
      value_payload_key    = try(meter.value_payload_key, "value")
    }
  }

  # Keyed by lookup key: the identity a price keeps across modes and replacements.
  prices = {
    for key, price in var.catalog.prices : key => {
      product        = price.product
      unit_amount    = try(price.unit_amount, null)
      currency       = price.currency
      nickname       = try(price.nickname, null)
      offered        = try(price.offered, true)
      interval       = try(price.recurring.interval, null)
      interval_count = try(price.recurring.interval_count, null)
      usage_type     = try(price.recurring.usage_type, null)
      meter          = try(price.recurring.meter, null)
      # Graduated tiers (a metered price's quota, then its overage); up_to is a string to the
      # provider ("inf" or a number of units).
      tiers = [
        for tier in try(price.tiers, []) : { up_to = tostring(tier.up_to), unit_amount = tier.unit_amount }
      ]
      # A plan's metered prices in the order of the meters they bill (as the loader's
      # metered_prices_of): a plan change pairs them by position.
      metered_prices = [
        for entry in sort([for m in try(price.metered_prices, []) : "${var.catalog.prices[m].recurring.meter} ${m}"]) :
        split(" ", entry)[1]
      ]
    }
  }

  offered_prices = sort([for key, price in local.prices : key if price.offered])

  coupons = {
    for key, coupon in try(var.catalog.coupons, {}) : key => {
      name               = coupon.name
      percent_off        = try(coupon.percent_off, null)
      amount_off         = try(coupon.amount_off, null)
      currency           = try(coupon.currency, null)
      duration           = coupon.duration
      duration_in_months = try(coupon.duration_in_months, null)
      max_redemptions    = try(coupon.max_redemptions, null)
      applies_to         = try(coupon.applies_to, [])
    }
  }

  promotion_codes = {
    for code, promo in try(var.catalog.promotion_codes, {}) : code => {
      coupon                 = promo.coupon
      max_redemptions        = try(promo.max_redemptions, null)
      first_time_transaction = try(promo.first_time_transaction, null)
    }
  }

  # The portal lets a customer switch among these prices, grouped by product as Stripe wants.
  plan_switches = try(var.catalog.portal.plan_switches, [])
  portal = {
    products = [
      for product in sort(distinct([for key in local.plan_switches : local.prices[key].product])) : {
        product = product
        prices  = [for key in local.plan_switches : key if local.prices[key].product == product]
      }
    ]
    proration_behavior = try(var.catalog.portal.proration_behavior, "create_prorations")
    cancel_mode        = try(var.catalog.portal.cancel_mode, "at_period_end")
  }
}
