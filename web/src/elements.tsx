/**
 * Stripe's Payment Element: the card form inside the app's own page, used where a publishable
 * key is configured (subscribe.ts). The client secret is the one create-subscription answered:
 * a PaymentIntent's for the first invoice ("payment"), or a SetupIntent's when nothing is due
 * now ("setup": a trial, a 100 % code, customer credit). Stripe.js then handles 3-D Secure and
 * redirects to `returnUrl`; the webhook turns access on, and the account page sees it live.
 *
 * `@stripe/stripe-js/pure` loads Stripe.js only when a key is configured (the plain import
 * would add Stripe's script to every page, the local stack's included).
 */
import { Elements, PaymentElement, useElements, useStripe } from "@stripe/react-stripe-js";
import { loadStripe } from "@stripe/stripe-js/pure";
import type { Stripe, StripeElements } from "@stripe/stripe-js";
import { useState, type FormEvent } from "react";

const loaded = new Map<string, Promise<Stripe | null>>();

/** One Stripe.js instance per key, as Stripe asks (never recreate it on each render). */
export function stripeFor(publishableKey: string): Promise<Stripe | null> {
  let stripe = loaded.get(publishableKey);
  if (!stripe) {
    stripe = loadStripe(publishableKey);
    loaded.set(publishableKey, stripe);
  }
  return stripe;
}

type Confirmer = Pick<Stripe, "confirmPayment" | "confirmSetup">;

/** Confirms the intent behind the Payment Element; answers Stripe's message when it fails
 * (a decline, a failed 3-D Secure), or null once Stripe.js redirects to `returnUrl`. */
export async function confirmIntent(
  stripe: Confirmer,
  elements: StripeElements,
  intent: "payment" | "setup",
  returnUrl: string,
): Promise<string | null> {
  const options = { elements, confirmParams: { return_url: returnUrl } };
  const result = intent === "payment" ? await stripe.confirmPayment(options) : await stripe.confirmSetup(options);
  if (!result.error) return null;
  return result.error.message ?? "The payment could not be confirmed.";
}

export interface PaymentFormProps {
  stripe: Promise<Stripe | null>;
  clientSecret: string;
  intent: "payment" | "setup";
  returnUrl: string;
}

export function PaymentForm({ stripe, clientSecret, intent, returnUrl }: PaymentFormProps) {
  return (
    <Elements stripe={stripe} options={{ clientSecret }}>
      <ConfirmForm intent={intent} returnUrl={returnUrl} />
    </Elements>
  );
}

function ConfirmForm({ intent, returnUrl }: { intent: "payment" | "setup"; returnUrl: string }) {
  const stripe = useStripe();
  const elements = useElements();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!stripe || !elements) return;
    setBusy(true);
    setError(await confirmIntent(stripe, elements, intent, returnUrl));
    setBusy(false);
  };
  return (
    <form className="card" onSubmit={(event) => void submit(event)} data-testid="payment-element">
      <PaymentElement />
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      <button type="submit" disabled={!stripe || busy}>
        {intent === "payment" ? "Pay and subscribe" : "Save card and subscribe"}
      </button>
    </form>
  );
}
