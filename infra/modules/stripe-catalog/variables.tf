variable "catalog" {
  description = "The decoded catalog file (functions/billing/catalog/catalog.json; its keys are documented in functions/billing/catalog/__init__.py)."
  type        = any

  validation {
    condition = alltrue([
      for price in values(var.catalog.prices) : contains(keys(var.catalog.products), price.product)
    ])
    error_message = "Every price's product is a key of products."
  }
  validation {
    condition = alltrue(flatten([
      for product in values(var.catalog.products) : [
        for feature in try(product.features, []) : contains(keys(var.catalog.features), feature)
      ]
    ]))
    error_message = "Every feature a product carries is a key of features."
  }
  validation {
    condition = alltrue([
      for promo in values(try(var.catalog.promotion_codes, {})) : contains(keys(try(var.catalog.coupons, {})), promo.coupon)
    ])
    error_message = "Every promotion code's coupon is a key of coupons."
  }
  validation {
    condition = alltrue([
      for key in try(var.catalog.portal.plan_switches, []) :
      contains(keys(var.catalog.prices), key) && try(var.catalog.prices[key].offered, true)
    ])
    error_message = "portal.plan_switches lists offered prices only (the portal never sells what the app does not)."
  }
  validation {
    condition = alltrue([
      for price in values(var.catalog.prices) :
      try(price.recurring.meter, null) == null || contains(keys(try(var.catalog.meters, {})), try(price.recurring.meter, ""))
    ])
    error_message = "A metered price's recurring.meter is a key of meters."
  }
  validation {
    condition = alltrue(flatten([
      for price in values(var.catalog.prices) : [
        for key in try(price.metered_prices, []) : try(var.catalog.prices[key].recurring.usage_type, "") == "metered"
      ]
    ]))
    error_message = "A plan's metered_prices are metered prices of the catalog."
  }
  validation {
    condition = alltrue([
      for price in values(var.catalog.prices) :
      try(price.recurring.usage_type, "") != "metered"
      || try(var.catalog.products[price.product].limits[price.recurring.meter], 0) == 0
      || (
        try(price.tiers[0].up_to, null) == try(var.catalog.products[price.product].limits[price.recurring.meter], 0)
        && try(price.tiers[0].unit_amount, null) == 0
      )
    ])
    error_message = "A metered price's first tier is free up to its product's limit for that meter (the quota is said once)."
  }
  validation {
    condition     = alltrue([for key in keys(var.catalog.prices) : can(regex("^[a-z0-9_]{1,200}$", key))])
    error_message = "Price keys are their Stripe lookup keys: lowercase letters, digits and _, up to 200 characters."
  }
}
