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
 * The address is the only source of the pending choice: the app reads it again on every
 * navigation (a click in the app, Back, Forward: `afterSignInAt`), so a plan the visitor went
 * back from is not kept in memory and taken up later (when the tab becomes signed in, say from
 * another tab), and the header's Sign in on the sign-in page keeps the plan (`signInLink`).
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

/** Characters a link's value is shown with as they are; any other (a space, a quote, a letter
 * from another script that looks like a Latin one, a control or direction mark) is shown
 * percent-encoded, as in a URL. */
const SHOWN_AS_IS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%\\]$/;

function percentEncoded(char: string): string {
  try {
    return encodeURIComponent(char);
  } catch {
    return "%EF%BF%BD"; // a lone surrogate: encodeURIComponent refuses it
  }
}

/**
 * A value from the URL, for a message: quoted, percent-encoded beyond URL characters and cut
 * short. The link's author chose it, so it is never shown as prose: a `next` of "Your account
 * is locked, call ..." reads "Your%20account%20is%20locked..." in the refusal, and a look-alike
 * such as "/\u0430ccount" (a Cyrillic a) reads "/%D0%B0ccount", not "/account".
 */
function quoted(value: string): string {
  const shown = Array.from(value, (char) => (SHOWN_AS_IS.test(char) ? char : percentEncoded(char))).join("");
  return `"${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}"`;
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

/** What the address `location` asks for after sign-in: only the sign-in page carries a
 * choice (checked as `readAfterSignIn` checks it); any other page carries none, the pricing
 * page the visitor went back to from `/signin?plan=...` among them. */
export function afterSignInAt(location: Pick<Location, "pathname" | "search">): AfterSignIn {
  return location.pathname.startsWith("/signin") ? readAfterSignIn(location.search) : { kind: "pricing" };
}

/** The header's Sign in: the sign-in page with the choice pending now, so clicking it on
 * `/signin?plan=...` keeps the plan (and its code), and on `/signin?next=/account` the page.
 * What was refused is not carried on, nor anything else in the address. */
export function signInLink(after: AfterSignIn): string {
  if (after.kind === "plan") return signInPath(after.chosen);
  if (after.kind === "page") return `/signin?next=${after.path}`;
  return "/signin";
}

/** The plan `chosen` names, if list-plans offers it; otherwise why not, in words (the link may
 * never have named a plan we sell, or the plan was withdrawn while the visitor signed up). */
export function offeredPlan(chosen: ChosenPlan, plans: Plan[]): { plan: Plan } | { message: string } {
  const plan = plans.find((offered) => offered.price_id === chosen.priceId);
  if (plan === undefined) {
    return { message: `The plan ${quoted(chosen.priceId)} is not one we offer now; choose one below.` };
  }
  return { plan };
}

/**
 * Goes on to pay only for a choice made in this tab. The pricing page's Subscribe, signed out,
 * remembers the choice here (sessionStorage: one tab, kept through the reload that verifying
 * the address does) before sending the visitor to sign in; once signed in, a plan link that
 * matches it goes on to pay without another click. Any other plan link (a mail, a forged link,
 * opened by someone already signed in) is only offered: the visitor clicks to continue. Going
 * on by itself would let a link start a Checkout or a subscription for whoever opens it: on the
 * Payment Element path, create-subscription with a trial, a 100 % code or customer credit makes
 * a live subscription at once (and spends the customer's one trial) without a click.
 */
const CHOSEN_HERE = "billing.planChosenBeforeSignIn";

export type ChoiceStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function thisTab(): ChoiceStore | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // no window (tests) or storage disabled: every plan link asks for a click
  }
}

/** Remembers that this tab chose `chosen` (the pricing page's Subscribe, signed out). */
export function rememberChoice(chosen: ChosenPlan, store: ChoiceStore | null = thisTab()): void {
  try {
    store?.setItem(CHOSEN_HERE, signInPath(chosen));
  } catch {
    // Storage full or refused: the visitor confirms with a click instead.
  }
}

/** Whether this tab chose `chosen` itself, without spending the record (for what a page
 * says before the choice is acted on). */
export function choiceIsHere(chosen: ChosenPlan, store: ChoiceStore | null = thisTab()): boolean {
  try {
    return store?.getItem(CHOSEN_HERE) === signInPath(chosen);
  } catch {
    return false;
  }
}

/** Whether this tab chose `chosen` itself; the record is spent, so it answers true once. */
export function choseHere(chosen: ChosenPlan, store: ChoiceStore | null = thisTab()): boolean {
  try {
    const mine = store?.getItem(CHOSEN_HERE) === signInPath(chosen);
    store?.removeItem(CHOSEN_HERE);
    return mine;
  } catch {
    return false;
  }
}

/** What a plan link not chosen in this tab asks, before the visitor clicks to continue. */
export function linkAsks(plan: Plan, label: string, promotionCode: string | null): string {
  const code = promotionCode ? ` with the promotion code ${promotionCode}` : "";
  return `The link you opened asks to subscribe you to ${plan.product_name} (${label})${code}. Continue only if you meant to.`;
}
