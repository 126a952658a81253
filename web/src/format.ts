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
