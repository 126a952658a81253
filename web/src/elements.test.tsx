import type { StripeElements } from "@stripe/stripe-js";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";

// Stripe.js cannot load here (no network, and no Stripe account): Elements is replaced by a
// recorder of what the app hands it, which is what this test is about.
const handed = vi.hoisted(() => [] as { options: unknown; stripe: unknown }[]);
vi.mock("@stripe/react-stripe-js", () => ({
  Elements: ({ stripe, options, children }: { stripe: unknown; options: unknown; children: unknown }) => {
    handed.push({ stripe, options });
    return children;
  },
  PaymentElement: () => null,
  useStripe: () => null,
  useElements: () => null,
}));

const { PaymentForm, confirmIntent } = await import("./elements");

describe("PaymentForm", () => {
  it("hands Elements the client secret create-subscription answered", () => {
    const stripe = Promise.resolve(null);
    const html = renderToStaticMarkup(
      <PaymentForm stripe={stripe} clientSecret="pi_1_secret_abc" intent="payment" returnUrl="https://app.test/account" />,
    );
    expect(handed.at(-1)).toEqual({ stripe, options: { clientSecret: "pi_1_secret_abc" } });
    expect(html).toContain("Pay and subscribe");
  });
});

describe("confirmIntent", () => {
  const elements = {} as StripeElements;
  const confirmer = (error?: { message?: string }) => ({
    confirmPayment: vi.fn(async () => (error ? { error } : {})),
    confirmSetup: vi.fn(async () => (error ? { error } : {})),
  });

  it("confirms a PaymentIntent with confirmPayment and a SetupIntent with confirmSetup", async () => {
    const stripe = confirmer();
    const args = { elements, confirmParams: { return_url: "https://app.test/account?checkout=done" } };
    await expect(confirmIntent(stripe as never, elements, "payment", "https://app.test/account?checkout=done")).resolves.toBeNull();
    expect(stripe.confirmPayment).toHaveBeenCalledWith(args);
    expect(stripe.confirmSetup).not.toHaveBeenCalled();
    await confirmIntent(stripe as never, elements, "setup", "https://app.test/account?checkout=done");
    expect(stripe.confirmSetup).toHaveBeenCalledWith(args);
    expect(stripe.confirmPayment).toHaveBeenCalledTimes(1);
  });

  it("answers Stripe's message when the confirmation fails", async () => {
    const stripe = confirmer({ message: "Your card was declined." });
    await expect(confirmIntent(stripe as never, elements, "payment", "https://app.test/")).resolves.toBe(
      "Your card was declined.",
    );
  });
});
