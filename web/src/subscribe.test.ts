import { describe, expect, it } from "vitest";
import { createBillingClient } from "./client";
import { paymentPath, startSubscription } from "./subscribe";

/** A fetch that answers each function by name and records the calls, in order. */
function functions(answers: Record<string, unknown>) {
  const calls: { name: string; body: unknown }[] = [];
  const fetch = async (request: Request) => {
    const name = new URL(request.url).pathname.replace(/^\//, "");
    calls.push({ name, body: await request.json() });
    const body = answers[name];
    if (body === undefined) return new Response(JSON.stringify({ error: { code: "not_found", message: name } }), { status: 404 });
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  const billing = createBillingClient({
    functions: "https://functions.test",
    getIdToken: async () => "token",
    fetch: fetch as typeof globalThis.fetch,
  });
  return { billing, calls };
}

const created = {
  subscription_id: "sub_1",
  status: "incomplete",
  client_secret: "pi_1_secret_abc",
  client_secret_type: "payment",
  created: true,
  amount_due: 2900,
  discount: null,
};

describe("paymentPath", () => {
  it("takes the Payment Element only where a publishable key is configured", () => {
    expect(paymentPath({ stripePublishableKey: "pk_test_123" })).toBe("elements");
    expect(paymentPath({ stripePublishableKey: "pk_live_123" })).toBe("elements");
    expect(paymentPath({ stripePublishableKey: null })).toBe("hosted");
    expect(paymentPath({})).toBe("hosted");
    expect(paymentPath({ stripePublishableKey: " " })).toBe("hosted");
    // A secret key pasted by mistake must never reach the browser's Stripe.js.
    expect(paymentPath({ stripePublishableKey: "sk_test_123" })).toBe("hosted");
  });
});

describe("startSubscription", () => {
  it("hosted: a Checkout page, and no subscription created by the app", async () => {
    const { billing, calls } = functions({
      "create-customer": { customer_id: "cus_1", created: true },
      "create-checkout-session": { session_id: "cs_1", url: "https://checkout.test/cs_1", expires_at: 1, amount_total: 2900, discount: null },
    });
    const started = await startSubscription(billing, "hosted", "price_pro_monthly");
    expect(started).toEqual({ kind: "hosted", url: "https://checkout.test/cs_1" });
    expect(calls.map((c) => c.name)).toEqual(["create-customer", "create-checkout-session"]);
    expect(calls[1]?.body).toEqual({ price_id: "price_pro_monthly" });
  });

  it("elements: the client secret create-subscription answered, and its intent type", async () => {
    const { billing, calls } = functions({
      "create-customer": { customer_id: "cus_1", created: false },
      "create-subscription": created,
    });
    const started = await startSubscription(billing, "elements", "price_pro_monthly", " WELCOME20 ");
    expect(started).toEqual({
      kind: "elements",
      subscriptionId: "sub_1",
      clientSecret: "pi_1_secret_abc",
      intent: "payment",
      amountDue: 2900,
    });
    expect(calls.map((c) => c.name)).toEqual(["create-customer", "create-subscription"]);
    expect(calls[1]?.body).toEqual({ price_id: "price_pro_monthly", promotion_code: "WELCOME20" });
  });

  it("elements: a SetupIntent's secret when nothing is due now, nothing to confirm when no secret", async () => {
    const setup = functions({
      "create-customer": { customer_id: "cus_1", created: false },
      "create-subscription": { ...created, client_secret: "seti_1_secret_x", client_secret_type: "setup", amount_due: 0 },
    });
    const started = await startSubscription(setup.billing, "elements", "price_pro_monthly");
    expect(started).toMatchObject({ kind: "elements", clientSecret: "seti_1_secret_x", intent: "setup" });

    const none = functions({
      "create-customer": { customer_id: "cus_1", created: false },
      "create-subscription": { ...created, status: "active", client_secret: null, client_secret_type: null },
    });
    expect(await startSubscription(none.billing, "elements", "price_pro_monthly")).toEqual({
      kind: "done",
      subscriptionId: "sub_1",
    });
  });

  it("shows the function's own error", async () => {
    const { billing } = functions({ "create-customer": { customer_id: "cus_1", created: false } });
    await expect(startSubscription(billing, "elements", "price_pro_monthly")).rejects.toMatchObject({
      code: "not_found",
    });
  });
});
