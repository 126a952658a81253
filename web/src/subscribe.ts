/**
 * How the app takes a customer's first payment: Stripe's Payment Element in the app's own page
 * where a Stripe publishable key is configured (Stripe test or live mode), otherwise Stripe's
 * hosted Checkout page (the local stack: its Stripe stand-in serves the hosted pages, and
 * Stripe.js cannot run against it). docs/frontend.md says the same.
 */
import { unwrap, type BillingClient } from "./client";
import type { AppConfig } from "./config";

export type PaymentPath = "elements" | "hosted";

/** The switch: a publishable key (pk_test_... or pk_live_...) means the Payment Element. */
export function paymentPath(config: Pick<AppConfig, "stripePublishableKey">): PaymentPath {
  const key = config.stripePublishableKey?.trim();
  return key && key.startsWith("pk_") ? "elements" : "hosted";
}

export type Started =
  /** Send the browser to Stripe's hosted Checkout page. */
  | { kind: "hosted"; url: string }
  /** Confirm this intent with the Payment Element (stripe.confirmPayment / confirmSetup). */
  | {
      kind: "elements";
      subscriptionId: string;
      clientSecret: string;
      intent: "payment" | "setup";
      amountDue: number | null;
    }
  /** Nothing to confirm (a 100 % code, customer credit): the webhook turns access on. */
  | { kind: "done"; subscriptionId: string };

/** Starts a subscription to `priceId` the way `path` says; the customer is created first
 * (create-customer answers the same customer on every call). */
export async function startSubscription(
  billing: BillingClient,
  path: PaymentPath,
  priceId: string,
  promotionCode?: string | null,
): Promise<Started> {
  unwrap(await billing.POST("/create-customer", { body: {} }));
  const code = promotionCode?.trim() || undefined;
  if (path === "hosted") {
    const session = unwrap(
      await billing.POST("/create-checkout-session", { body: { price_id: priceId, promotion_code: code } }),
    );
    return { kind: "hosted", url: session.url };
  }
  const created = unwrap(
    await billing.POST("/create-subscription", { body: { price_id: priceId, promotion_code: code } }),
  );
  if (created.client_secret === null || created.client_secret_type === null) {
    return { kind: "done", subscriptionId: created.subscription_id };
  }
  return {
    kind: "elements",
    subscriptionId: created.subscription_id,
    clientSecret: created.client_secret,
    intent: created.client_secret_type,
    amountDue: created.amount_due,
  };
}
