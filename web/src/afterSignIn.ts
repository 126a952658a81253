/**
 * Where a visitor goes once signed in, carried through the sign-in page in its URL:
 *
 *   /signin?plan=price_basic_monthly&promotion_code=WELCOME20   on to paying for that plan
 *   /signin?next=/account                                       on to that page of this app
 *
 * In the URL (not in memory) because signing up and verifying the address reloads the page,
 * and a reload keeps the URL: a visitor who picked a plan on the pricing page, was asked to
 * sign in, and signed up goes on to Checkout (or the Payment Element) with that plan, not
 * back to the pricing page.
 *
 * Anyone can write such a link (a mail, a forged link), so both are checked before they are
 * followed, and what is refused is said, never silently dropped:
 * - `plan` must look like a price id (the functions' own pattern, openapi.yaml) and, once
 *   list-plans has answered, be one of the plans it offers (`offeredPlan`): a link never
 *   starts a Checkout for a price the app does not sell. The functions check the allowlist
 *   again; this is so the visitor learns it here, in words.
 * - `promotion_code` is checked as the functions spell a code; the code's validity is
 *   Stripe's to say (create-checkout-session answers promotion_code_invalid).
 * - `next` is only ever one of this app's own pages, by path, never a URL: following any URL
 *   would be an open redirect (a link to our sign-in page that sends the just-signed-in
 *   visitor to a look-alike site asking for their card).
 */
import type { Schemas } from "./client";

type Plan = Schemas["Plan"];

/** The functions' patterns (openapi.yaml: price_id, promotion_code); a test compares them. */
export const PRICE_ID = /^price_[A-Za-z0-9_]{1,64}$/;
export const PROMOTION_CODE = /^[A-Za-z0-9_-]{1,64}$/;

/** The app's pages that may follow sign-in. */
export const NEXT_PAGES = ["/pricing", "/account"] as const;
export type NextPage = (typeof NEXT_PAGES)[number];

export interface ChosenPlan {
  priceId: string;
  promotionCode: string | null;
}

export type AfterSignIn =
  | { kind: "pricing" }
  | { kind: "plan"; chosen: ChosenPlan }
  | { kind: "page"; path: NextPage }
  | { kind: "refused"; message: string };

/** A value from the URL, quoted and cut short, for a message. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** The promotion code a visitor typed: trimmed, empty means none; a message when malformed. */
export function checkPromotionCode(typed: string | null | undefined): { code: string | null } | { message: string } {
  const code = typed?.trim() ?? "";
  if (code === "") return { code: null };
  if (!PROMOTION_CODE.test(code)) {
    return {
      message: `The promotion code ${quoted(code)} cannot be right: a code is letters, digits, dashes and underscores, at most 64.`,
    };
  }
  return { code };
}

/** The sign-in page's address that carries `chosen` through sign-in. */
export function signInPath(chosen: ChosenPlan): string {
  const query = new URLSearchParams({ plan: chosen.priceId });
  if (chosen.promotionCode) query.set("promotion_code", chosen.promotionCode);
  return `/signin?${query.toString()}`;
}

/** What the sign-in page's query (`location.search`) asks for after sign-in, checked. */
export function readAfterSignIn(search: string): AfterSignIn {
  const query = new URLSearchParams(search);
  const plan = query.get("plan");
  const next = query.get("next");
  if (plan !== null) {
    if (!PRICE_ID.test(plan)) {
      return { kind: "refused", message: `The link names a plan ${quoted(plan)} that is not one of ours; choose a plan below.` };
    }
    const code = checkPromotionCode(query.get("promotion_code"));
    if ("message" in code) return { kind: "refused", message: `${code.message} Choose a plan below and type the code again.` };
    return { kind: "plan", chosen: { priceId: plan, promotionCode: code.code } };
  }
  if (next !== null) {
    const page = NEXT_PAGES.find((path) => path === next);
    if (page === undefined) {
      return {
        kind: "refused",
        message: `The link asks to open ${quoted(next)} after sign-in; only this app's own pages (${NEXT_PAGES.join(", ")}) can follow sign-in.`,
      };
    }
    return { kind: "page", path: page };
  }
  return { kind: "pricing" };
}

/** The plan `chosen` names, if list-plans offers it; otherwise why not, in words. */
export function offeredPlan(chosen: ChosenPlan, plans: Plan[]): { plan: Plan } | { message: string } {
  const plan = plans.find((offered) => offered.price_id === chosen.priceId);
  if (plan === undefined) {
    return { message: `The plan you chose (${chosen.priceId}) is not offered any more; choose one below.` };
  }
  return { plan };
}
