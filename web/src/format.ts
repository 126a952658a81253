import { BillingError } from "./client";

/** An error as the person reads it: the billing function's own message where it answered one. */
export function describe(error: unknown): string {
  if (error instanceof BillingError) return error.message;
  if (error instanceof Error) return error.message.replace(/^Firebase: /, "");
  return String(error);
}

/** Amounts come from Stripe in the currency's smallest unit (cents). */
export function money(amount: number | null | undefined, currency: string): string {
  if (amount === null || amount === undefined) return "—";
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amount / 10 ** digits);
}

/** A Unix timestamp (seconds) as a date. */
export function when(seconds: number | null | undefined): string {
  return seconds ? new Date(seconds * 1000).toLocaleDateString() : "—";
}

/** A billing interval as a word: "monthly", "daily", "every 3 months". */
export function intervalLabel(interval: string, count = 1): string {
  if (count > 1) return `every ${count} ${interval}s`;
  return { day: "daily", week: "weekly", month: "monthly", year: "yearly" }[interval] ?? `every ${interval}`;
}

/** The interval a price renews at, for "$9.99 / month". */
export function intervalUnit(interval: string, count = 1): string {
  return count > 1 ? `${count} ${interval}s` : interval;
}

/** An amount in the currency's smallest unit that may have decimals ("0.5" cents), shown with as
 * many digits as it needs: $0.02, $0.005. */
export function moneyDecimal(amount: string, currency: string, units = 1): string {
  const base = new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() });
  const digits = base.resolvedOptions().maximumFractionDigits ?? 2;
  const value = (Number(amount) * units) / 10 ** digits;
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: Math.min(20, digits + 6),
  }).format(value);
}

export interface Overage {
  meter_name: string;
  currency: string;
  included: number;
  unit_amount_decimal: string;
  per_units: number;
}

/** What use beyond a plan's quota costs, as a pricing page says it before anyone pays:
 * "1,000 API calls included, then $0.02 per API call over the quota". A price below a cent a
 * unit is said per 1,000. */
export function overageText(metered: Overage): string {
  const name = metered.meter_name;
  const one = name.endsWith("s") ? name.slice(0, -1) : name;
  let units = metered.per_units;
  const perUnit = Number(metered.unit_amount_decimal) / units;
  if (perUnit > 0 && perUnit < 1 && units < 1000) units = 1000;
  const price = moneyDecimal(String(perUnit), metered.currency, units);
  const per = units === 1 ? one : `${units.toLocaleString()} ${name}`;
  if (metered.included === 0) return perUnit === 0 ? `${name} free` : `${price} per ${per} used`;
  const then = perUnit === 0 ? `${name} beyond free` : `then ${price} per ${per} over the quota`;
  return `${metered.included.toLocaleString()} ${name} included, ${then}`;
}

/** The account page's renewal line. A subscription canceled at once is "Canceled" (it does not
 * cancel at period end: it has ended), one set to cancel "Cancels at period end". */
export function renewal(entitlement: {
  status: string;
  cancel_at_period_end: boolean;
  current_period_end: number | null;
  valid_until: number | null;
}): { label: string; text: string } {
  if (entitlement.status === "canceled") {
    return { label: "Ended", text: `Canceled, ${when(entitlement.valid_until ?? entitlement.current_period_end)}` };
  }
  if (entitlement.cancel_at_period_end) {
    return { label: "Ends", text: `Cancels at period end, ${when(entitlement.current_period_end)}` };
  }
  return { label: "Renews", text: when(entitlement.current_period_end) };
}
