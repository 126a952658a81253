/**
 * The pricing page: public (a visitor sees prices before having an account; list-plans needs
 * no token), read from list-plans so no amount is hard-coded here. Subscribing asks for a
 * signed-in, verified user first.
 *
 * list-plans can fail (Stripe down on a cold instance: 503); the page then says so and offers
 * to try again, and tries again by itself after a back-off when the error is one worth
 * retrying; it never stays on "Loading plans…". When the functions answer their last good copy
 * during an outage (`stale`), the page says how old the prices are.
 *
 * A visitor who picks a plan signed out is sent to sign in with the plan (and the promotion
 * code typed) in the URL (afterSignIn.ts); once signed in, this page is handed that choice
 * and, when list-plans offers it, goes on to pay for it without another click. A plan link
 * this tab did not make (a mail, a forged link) is only offered, with a button to continue.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { checkPromotionCode, choseHere, linkAsks, offeredPlan, type ChosenPlan } from "./afterSignIn";
import { BillingError, unwrap, type BillingClient, type Schemas } from "./client";
import type { AppConfig } from "./config";
import { PaymentForm, stripeFor } from "./elements";
import { describe, intervalLabel, intervalUnit, money, overageText } from "./format";
import { paymentPath, startSubscription, type Started } from "./subscribe";

type Plan = Schemas["Plan"];

export type PlansState =
  | { kind: "loading" }
  | { kind: "ready"; plans: Plan[]; stale: boolean; age: number }
  | { kind: "error"; message: string; retryable: boolean; attempt: number };

/**
 * How long the page waits for list-plans. An instance with no copy of the catalog waits for
 * Stripe, which can take the function's whole timeout (minutes) when Stripe hangs; the page
 * gives up sooner, says so and tries again.
 */
export const PLANS_TIMEOUT_MS = 30_000;

/** One read of list-plans, as the state the page shows. */
export async function fetchPlans(
  billing: BillingClient,
  attempt = 0,
  timeoutMs = PLANS_TIMEOUT_MS,
): Promise<PlansState> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const list = unwrap(await billing.GET("/list-plans", { signal: abort.signal }));
    return { kind: "ready", plans: list.plans, stale: list.stale, age: list.age };
  } catch (caught) {
    if (abort.signal.aborted) {
      const seconds = Math.round(timeoutMs / 1000);
      return { kind: "error", message: `the billing service did not answer within ${seconds} seconds.`, retryable: true, attempt };
    }
    // A network failure (TypeError from fetch) is worth retrying as much as a 503.
    const retryable = caught instanceof BillingError ? caught.retryable : true;
    return { kind: "error", message: describe(caught), retryable, attempt };
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds before trying again by itself: 2, 4, 8, ... up to 30. */
export function retryDelay(attempt: number): number {
  return Math.min(30, 2 * 2 ** attempt);
}

function ago(seconds: number): string {
  if (seconds < 120) return `${seconds} seconds`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds / 3600)} hours`;
}

export function PlanCard({
  plan,
  busy,
  onSubscribe,
}: {
  plan: Plan;
  busy: boolean;
  onSubscribe: (plan: Plan) => void;
}) {
  return (
    <div className="card plan" data-price={plan.price_id}>
      <h2>{plan.product_name}</h2>
      <p className="amount">
        {money(plan.unit_amount, plan.currency)} / {intervalUnit(plan.interval, plan.interval_count)}
      </p>
      {plan.metered.map((usage) => (
        <p className="overage" key={usage.price_id} data-testid="overage">
          {overageText(usage)}
        </p>
      ))}
      <ul>
        {plan.features.map((feature) => (
          <li key={feature.lookup_key}>{feature.name}</li>
        ))}
      </ul>
      <button disabled={busy} onClick={() => onSubscribe(plan)}>
        Subscribe to {plan.product_name} ({intervalLabel(plan.interval, plan.interval_count)})
      </button>
    </div>
  );
}

/** What the page shows for each state of the read (no hooks: rendered as is by the tests). */
export function PlansView({
  state,
  busy,
  onRetry,
  onSubscribe,
}: {
  state: PlansState;
  busy: boolean;
  onRetry: () => void;
  onSubscribe: (plan: Plan) => void;
}) {
  if (state.kind === "loading") return <p role="status">Loading plans…</p>;
  if (state.kind === "error") {
    return (
      <div className="error" role="alert" data-testid="plans-error">
        <p>The plans could not be loaded: {state.message}</p>
        {state.retryable && <p>Trying again in {retryDelay(state.attempt)} seconds.</p>}
        <button onClick={onRetry}>Try again</button>
      </div>
    );
  }
  return (
    <>
      {state.stale && (
        <p role="status" data-testid="plans-stale">
          Prices as of {ago(state.age)} ago: the billing service could not refresh them just now.
        </p>
      )}
      <div className="plans">
        {state.plans.map((plan) => (
          <PlanCard key={plan.price_id} plan={plan} busy={busy} onSubscribe={onSubscribe} />
        ))}
      </div>
    </>
  );
}

export function Pricing({
  billing,
  run,
  config,
  canSubscribe,
  onSignInNeeded,
  chosen = null,
  onChosenHandled,
}: {
  billing: BillingClient;
  run: (action: () => Promise<void>) => Promise<void>;
  config: AppConfig;
  /** A signed-in user with a verified email; otherwise Subscribe asks for that first. */
  canSubscribe: boolean;
  onSignInNeeded: (plan: Plan, promotionCode: string | null) => void;
  /** The plan picked before signing in: subscribed to once the plans are read. */
  chosen?: ChosenPlan | null;
  onChosenHandled?: () => void;
}) {
  const [state, setState] = useState<PlansState>({ kind: "loading" });
  const [code, setCode] = useState(chosen?.promotionCode ?? "");
  const [continuing, setContinuing] = useState<string | null>(null);
  // A plan link not chosen in this tab: shown, paid for only when the visitor clicks.
  const [asked, setAsked] = useState<{ plan: Plan; promotionCode: string | null; text: string } | null>(null);
  // Once per choice, even where React runs an effect twice (StrictMode).
  const handled = useRef<ChosenPlan | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [paying, setPaying] = useState<(Extract<Started, { kind: "elements" }> & { currency: string }) | null>(null);
  // Stripe's Payment Element where a publishable key is configured; the hosted Checkout page
  // otherwise (the local stack). docs/frontend.md.
  const path = paymentPath(config);

  const load = useCallback(
    async (attempt = 0) => {
      setState((shown) => (shown.kind === "ready" ? shown : { kind: "loading" }));
      setState(await fetchPlans(billing, attempt));
    },
    [billing],
  );
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    if (state.kind !== "error" || !state.retryable) return;
    const timer = setTimeout(() => void load(state.attempt + 1), retryDelay(state.attempt) * 1000);
    return () => clearTimeout(timer);
  }, [state, load]);

  const subscribe = (plan: Plan, typed: string) => {
    const checked = checkPromotionCode(typed);
    if ("message" in checked) {
      return void run(async () => {
        throw new Error(checked.message);
      });
    }
    if (!canSubscribe) return onSignInNeeded(plan, checked.code);
    void run(async () => {
      setBusy(plan.price_id);
      try {
        const started = await startSubscription(billing, path, plan.price_id, checked.code);
        if (started.kind === "hosted") window.location.assign(started.url);
        else if (started.kind === "done") window.location.assign("/account?checkout=done");
        else setPaying({ ...started, currency: plan.currency });
      } finally {
        setBusy(null);
        setContinuing(null);
      }
    });
  };

  // Back from sign-in with a plan chosen before it: on to paying, if the plan is offered.
  useEffect(() => {
    if (!chosen || !canSubscribe || state.kind !== "ready" || handled.current === chosen) return;
    handled.current = chosen;
    onChosenHandled?.();
    const found = offeredPlan(chosen, state.plans);
    if ("message" in found) {
      void run(async () => {
        throw new Error(found.message);
      });
      return;
    }
    const label = intervalLabel(found.plan.interval, found.plan.interval_count);
    if (!choseHere(chosen)) {
      setAsked({ plan: found.plan, promotionCode: chosen.promotionCode, text: linkAsks(found.plan, label, chosen.promotionCode) });
      return;
    }
    setContinuing(`${found.plan.product_name} (${label})`);
    subscribe(found.plan, chosen.promotionCode ?? "");
    // subscribe and run are read as they are now; `handled` makes this once per choice.
  }, [chosen, canSubscribe, state]);

  if (paying && config.stripePublishableKey) {
    return (
      <section>
        <h1>Payment</h1>
        {paying.amountDue !== null && <p>Due now: {money(paying.amountDue, paying.currency)}</p>}
        <PaymentForm
          stripe={stripeFor(config.stripePublishableKey)}
          clientSecret={paying.clientSecret}
          intent={paying.intent}
          returnUrl={`${window.location.origin}/account?checkout=done`}
        />
      </section>
    );
  }
  return (
    <section>
      <h1>Pricing</h1>
      {continuing && (
        <p role="status" data-testid="continuing">
          Going on to pay for {continuing}…
        </p>
      )}
      {asked && (
        <div className="card" data-testid="link-asks">
          <p>{asked.text}</p>
          <div className="row">
            <button
              disabled={busy !== null}
              onClick={() => {
                setAsked(null);
                subscribe(asked.plan, asked.promotionCode ?? "");
              }}
            >
              Continue to payment
            </button>
            <button className="link" onClick={() => setAsked(null)}>
              Choose another plan
            </button>
          </div>
        </div>
      )}
      <label className="promotion">
        Promotion code (optional)
        <input name="promotion_code" value={code} onChange={(e) => setCode(e.target.value)} autoComplete="off" />
      </label>
      <PlansView
        state={state}
        busy={busy !== null}
        onRetry={() => void load()}
        onSubscribe={(plan) => subscribe(plan, code)}
      />
    </section>
  );
}
