output "features" {
  description = "Entitlements features by lookup key."
  value       = local.features
}

output "products" {
  description = "Products by catalog key."
  value       = local.products
}

output "product_features" {
  description = "\"product/feature\" => which product carries which feature."
  value       = local.product_features
}

output "meters" {
  description = "Billing meters by catalog key (empty until usage-based prices are added)."
  value       = local.meters
}

output "prices" {
  description = "Prices by lookup key, with their product's catalog key."
  value       = local.prices
}

output "offered_prices" {
  description = "Lookup keys of the prices the app sells (ALLOWED_PRICE_IDS), sorted."
  value       = local.offered_prices
}

output "coupons" {
  description = "Coupons by catalog key."
  value       = local.coupons
}

output "promotion_codes" {
  description = "Promotion codes by the code customers type."
  value       = local.promotion_codes
}

output "portal" {
  description = "The billing portal's plan switches (per product, lookup keys) and behaviours."
  value       = local.portal
}
