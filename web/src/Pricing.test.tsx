import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { createBillingClient, type Schemas } from "./client";
import { intervalLabel, overageText, renewal } from "./format";
import { PlansView, fetchPlans, type PlansState } from "./Pricing";

const basic: Schemas["Plan"] = {
  price_id: "price_basic_monthly",
  product_id: "prod_basic",
  product_name: "Basic",
  product_description: null,
  unit_amount: 999,
  currency: "usd",
  interval: "month",
  interval_count: 1,
  features: [{ lookup_key: "reports", name: "Reports" }],
  metered: [
    {
      price_id: "price_basic_api_calls_monthly",
      meter: "api_calls",
      meter_name: "API calls",
      currency: "usd",
      included: 1000,
      unit_amount_decimal: "2",
      per_units: 1,
      tiers: [],
    },
  ],
};

/** A billing client whose list-plans answers `status` with `body` (no network). */
function answering(status: number, body: unknown) {
  return createBillingClient({
    functions: "http://functions.test",
    getIdToken: async () => null,
    fetch: async () => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }),
  });
}

const noop = () => undefined;

describe("the pricing page's read of list-plans", () => {
  it("turns a 503 into an error state worth retrying, never a lasting 'Loading plans…'", async () => {
    const state = await fetchPlans(
      answering(503, { error: { code: "upstream_unavailable", message: "Stripe is unavailable; try again." } }),
    );
    expect(state).toEqual({
      kind: "error",
      message: "Stripe is unavailable; try again.",
      retryable: true,
      attempt: 0,
    });
    const html = renderToStaticMarkup(<PlansView state={state} busy={false} onRetry={noop} onSubscribe={noop} />);
    expect(html).toContain('role="alert"');
    expect(html).toContain("The plans could not be loaded: Stripe is unavailable; try again.");
    expect(html).toContain("Trying again in 2 seconds.");
    expect(html).toContain("Try again</button>");
    expect(html).not.toContain("Loading plans");
  });

  it("treats a network failure as retryable and a 400 as not", async () => {
    const offline = createBillingClient({
      functions: "http://functions.test",
      getIdToken: async () => null,
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    expect(await fetchPlans(offline, 3)).toMatchObject({ kind: "error", retryable: true, attempt: 3 });
    const refused = await fetchPlans(answering(400, { error: { code: "bad_request", message: "No." } }));
    expect(refused).toMatchObject({ kind: "error", retryable: false });
    const html = renderToStaticMarkup(
      <PlansView state={refused} busy={false} onRetry={noop} onSubscribe={noop} />,
    );
    expect(html).not.toContain("Trying again in");
    expect(html).toContain("Try again</button>");
  });

  it("gives up on a list-plans that does not answer, says so and retries, never a lasting 'Loading plans…'", async () => {
    const hanging = createBillingClient({
      functions: "http://functions.test",
      getIdToken: async () => null,
      // Answers nothing, ever; only the page's own deadline ends the wait.
      fetch: (input) =>
        new Promise<Response>((_resolve, reject) => {
          const signal = (input as Request).signal;
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    });
    const state = await fetchPlans(hanging, 1, 20);
    expect(state).toEqual({
      kind: "error",
      message: "the billing service did not answer within 0 seconds.",
      retryable: true,
      attempt: 1,
    });
  });

  it("retries a function's timeout (504) or a gateway's 502 as it does a 503", async () => {
    for (const status of [502, 504]) {
      const state = await fetchPlans(answering(status, "upstream request timeout"));
      expect(state).toMatchObject({ kind: "error", retryable: true });
    }
  });

  it("says how old the prices are when the functions answer their last good copy", async () => {
    const state = await fetchPlans(
      answering(200, { plans: [basic], fetched_at: 1_800_000_000, age: 600, stale: true, max_age: 15 }),
    );
    expect(state).toMatchObject({ kind: "ready", stale: true, age: 600 });
    const html = renderToStaticMarkup(<PlansView state={state} busy={false} onRetry={noop} onSubscribe={noop} />);
    expect(html).toContain('data-testid="plans-stale"');
    expect(html).toContain("Prices as of 10 minutes ago");
    expect(html).toContain("$9.99 / month");
  });

  it("shows the overage price before paying, and the interval as a word", () => {
    const ready: PlansState = { kind: "ready", plans: [basic], stale: false, age: 0 };
    const html = renderToStaticMarkup(<PlansView state={ready} busy={false} onRetry={noop} onSubscribe={noop} />);
    expect(html).toContain("1,000 API calls included, then $0.02 per API call over the quota");
    expect(html).toContain("Subscribe to Basic (monthly)");
    expect(html).not.toContain("plans-stale");
  });
});

describe("wording", () => {
  it("names intervals: daily, not dayly", () => {
    expect(["day", "week", "month", "year"].map((i) => intervalLabel(i))).toEqual([
      "daily",
      "weekly",
      "monthly",
      "yearly",
    ]);
    expect(intervalLabel("month", 3)).toBe("every 3 months");
  });

  it("says a price below a cent per 1,000 units", () => {
    const text = overageText({ meter_name: "API calls", currency: "usd", included: 0, unit_amount_decimal: "0.5", per_units: 1 });
    expect(text).toBe("$5.00 per 1,000 API calls used");
    const divided = overageText({ meter_name: "API calls", currency: "usd", included: 100, unit_amount_decimal: "200", per_units: 1000 });
    expect(divided).toBe("100 API calls included, then $2.00 per 1,000 API calls over the quota");
  });

  it("shows a subscription canceled at once as canceled, not as cancelling at period end", () => {
    const ended = renewal({ status: "canceled", cancel_at_period_end: true, current_period_end: 1_800_000_000, valid_until: null });
    expect(ended.label).toBe("Ended");
    expect(ended.text).toMatch(/^Canceled, /);
    const ending = renewal({ status: "active", cancel_at_period_end: true, current_period_end: 1_800_000_000, valid_until: null });
    expect(ending.text).toMatch(/^Cancels at period end, /);
    expect(renewal({ status: "active", cancel_at_period_end: false, current_period_end: null, valid_until: null }).label).toBe(
      "Renews",
    );
  });
});
