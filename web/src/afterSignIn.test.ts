import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  NEXT_PAGES,
  afterSignInAt,
  PRICE_ID,
  PROMOTION_CODE,
  checkPromotionCode,
  choiceIsHere,
  choseHere,
  linkAsks,
  offeredPlan,
  readAfterSignIn,
  rememberChoice,
  signInLink,
  signInPath,
} from "./afterSignIn";
import type { Schemas } from "./client";

const basic = { price_id: "price_basic_monthly", product_name: "Basic" } as Schemas["Plan"];
const pro = { price_id: "price_pro_monthly", product_name: "Pro" } as Schemas["Plan"];

describe("the plan carried through sign-in", () => {
  it("survives the trip: the sign-in link reads back as the plan and code chosen", () => {
    const path = signInPath({ priceId: "price_pro_monthly", promotionCode: "WELCOME20" });
    expect(path).toBe("/signin?plan=price_pro_monthly&promotion_code=WELCOME20");
    expect(readAfterSignIn(new URL(path, "https://app.test").search)).toEqual({
      kind: "plan",
      chosen: { priceId: "price_pro_monthly", promotionCode: "WELCOME20" },
    });
    expect(readAfterSignIn(signInPath({ priceId: "price_basic_monthly", promotionCode: null }).split("?")[1]!)).toEqual({
      kind: "plan",
      chosen: { priceId: "price_basic_monthly", promotionCode: null },
    });
  });

  it("goes on only to a plan list-plans offers: an unknown one is refused, saying so", () => {
    expect(offeredPlan({ priceId: "price_pro_monthly", promotionCode: null }, [basic, pro])).toEqual({ plan: pro });
    expect(offeredPlan({ priceId: "price_gone", promotionCode: null }, [basic, pro])).toEqual({
      message: 'The plan "price_gone" is not one we offer now; choose one below.',
    });
    expect(offeredPlan({ priceId: "price_basic_monthly", promotionCode: null }, [])).toHaveProperty("message");
  });

  it("refuses a plan that is not a price id (a URL, a script), with a message naming it", () => {
    for (const plan of ["https://evil.example/pay", "javascript:alert(1)", "prod_basic", "price_", "", "price_a b"]) {
      const read = readAfterSignIn(`?plan=${encodeURIComponent(plan)}`);
      expect(read).toEqual({
        kind: "refused",
        message: `The link names a plan "${plan.replace(" ", "%20")}" that is not one of ours; choose a plan below.`,
      });
    }
  });

  it("refuses a malformed promotion code instead of paying without the discount", () => {
    const read = readAfterSignIn("?plan=price_basic_monthly&promotion_code=%3Cscript%3E");
    expect(read.kind).toBe("refused");
    expect(read).toHaveProperty("message", expect.stringContaining('The promotion code "%3Cscript%3E" cannot be right'));
    expect(checkPromotionCode("  TEAM10 ")).toEqual({ code: "TEAM10" });
    expect(checkPromotionCode("")).toEqual({ code: null });
    expect(checkPromotionCode("x".repeat(65))).toHaveProperty("message");
  });

  it("cuts a long value short in the message", () => {
    const read = readAfterSignIn(`?next=${"/a".repeat(100)}`);
    expect(read.kind).toBe("refused");
    expect(read).toHaveProperty("message", expect.stringContaining("…"));
    expect((read as { message: string }).message.length).toBeLessThan(220);
  });
});

describe("the choice pending is what the address says", () => {
  const at = (address: string) => afterSignInAt(new URL(address, "https://app.test"));
  const basic = { priceId: "price_basic_monthly", promotionCode: "WELCOME20" };

  it("is the sign-in page's plan or page, checked as a link is", () => {
    expect(at("/signin?plan=price_basic_monthly&promotion_code=WELCOME20")).toEqual({ kind: "plan", chosen: basic });
    expect(at("/signin?next=/account")).toEqual({ kind: "page", path: "/account" });
    expect(at("/signin")).toEqual({ kind: "pricing" });
    expect(at("/signin?plan=prod_basic")).toHaveProperty("kind", "refused");
    expect(at("/signin?next=https://evil.example")).toHaveProperty("kind", "refused");
  });

  it("is none on any other page: Back from /signin?plan= to the plans drops the plan, Forward brings it back", () => {
    // The tab's history: the plans, then Subscribe's sign-in link; each move reads the address.
    const history = ["/pricing", signInPath(basic)];
    expect(at(history[1]!)).toEqual({ kind: "plan", chosen: basic });
    expect(at(history[0]!)).toEqual({ kind: "pricing" }); // Back
    expect(at(history[1]!)).toEqual({ kind: "plan", chosen: basic }); // Forward
    for (const elsewhere of ["/", "/pricing?plan=price_basic_monthly", "/account?plan=price_basic_monthly&next=/account"]) {
      expect(at(elsewhere)).toEqual({ kind: "pricing" });
    }
  });

  it("stays in the header's Sign in: clicked on the sign-in page, it keeps the plan, its code or the page", () => {
    for (const address of [signInPath(basic), signInPath({ ...basic, promotionCode: null }), "/signin?next=/account", "/signin"]) {
      expect(signInLink(at(address))).toBe(address);
      expect(at(signInLink(at(address)))).toEqual(at(address));
    }
    expect(signInLink({ kind: "pricing" })).toBe("/signin");
  });

  it("carries nothing refused into the header's Sign in", () => {
    for (const address of ["/signin?plan=https%3A%2F%2Fevil.example", "/signin?next=%2F%2Fevil.example", "/signin?plan=price_basic_monthly&promotion_code=%3Cx%3E"]) {
      expect(at(address)).toHaveProperty("kind", "refused");
      expect(signInLink(at(address))).toBe("/signin");
    }
  });
});

describe("the page after sign-in (next)", () => {
  it("is one of the app's own pages, by path", () => {
    expect(readAfterSignIn("?next=/account")).toEqual({ kind: "page", path: "/account" });
    expect(readAfterSignIn("?next=/pricing")).toEqual({ kind: "page", path: "/pricing" });
    expect(readAfterSignIn("")).toEqual({ kind: "pricing" });
  });

  it("never a URL: a foreign address (or one that only looks like a path) is refused, saying so", () => {
    for (const next of [
      "https://evil.example/account",
      "//evil.example/account",
      "/\\evil.example",
      "javascript:alert(1)",
      "/account@evil.example",
      "/account?x=1",
      "/signin",
      "https://app.test/account",
    ]) {
      expect(readAfterSignIn(`?next=${encodeURIComponent(next)}`)).toEqual({
        kind: "refused",
        message: `The link asks to open "${next}" after sign-in; only this app's own pages (${NEXT_PAGES.join(", ")}) can follow sign-in.`,
      });
    }
  });
});

describe("what a refusal shows", () => {
  it("shows a link's value percent-encoded, never as the author's prose or a look-alike", () => {
    const scam = readAfterSignIn(`?next=${encodeURIComponent("Your account is locked. Call +1 800 555 0100 now")}`);
    expect(scam).toHaveProperty("message", expect.stringContaining('"Your%20account%20is%20locked.%20Call%20+1%20800'));
    expect(scam).toHaveProperty("message", expect.not.stringContaining("account is locked"));
    // A Cyrillic a, a right-to-left override, a quote, a newline: none shown as itself.
    const lookAlike = readAfterSignIn(`?next=${encodeURIComponent("/\u0430ccount\u202e\"\n")}`);
    expect(lookAlike).toHaveProperty("message", expect.stringContaining('"/%D0%B0ccount%E2%80%AE%22%0A"'));
    // A lone surrogate (typed; a URL's query never decodes to one) is shown, not thrown on.
    expect(checkPromotionCode("A\ud800")).toHaveProperty("message", expect.stringContaining('"A%EF%BF%BD"'));
  });
});

describe("going on to pay once signed in", () => {
  const memory = () => {
    const held = new Map<string, string>();
    return {
      getItem: (key: string) => held.get(key) ?? null,
      setItem: (key: string, value: string) => void held.set(key, value),
      removeItem: (key: string) => void held.delete(key),
    };
  };
  const chosen = { priceId: "price_basic_monthly", promotionCode: "WELCOME20" };

  it("goes on by itself only for the choice this tab made, once", () => {
    const tab = memory();
    rememberChoice(chosen, tab);
    expect(choseHere({ ...chosen, promotionCode: null }, tab)).toBe(false); // another code
    rememberChoice(chosen, tab);
    expect(choseHere({ ...chosen, priceId: "price_pro_monthly" }, tab)).toBe(false); // another plan
    rememberChoice(chosen, tab);
    expect(choseHere(chosen, tab)).toBe(true);
    expect(choseHere(chosen, tab)).toBe(false); // spent: opening the link again asks
  });

  it("tells the verify page whether the plan is this tab's own, without spending the choice", () => {
    const tab = memory();
    expect(choiceIsHere(chosen, tab)).toBe(false); // a link from anywhere else
    rememberChoice(chosen, tab);
    expect(choiceIsHere({ ...chosen, priceId: "price_pro_monthly" }, tab)).toBe(false);
    expect(choiceIsHere(chosen, tab)).toBe(true);
    expect(choiceIsHere(chosen, tab)).toBe(true); // still there for going on to pay
    expect(choseHere(chosen, tab)).toBe(true);
  });

  it("asks for a click for a link from anywhere else (or with no storage), saying what it asks", () => {
    expect(choseHere(chosen, memory())).toBe(false);
    expect(choseHere(chosen, null)).toBe(false);
    const broken = { getItem: () => { throw new Error("SecurityError"); }, setItem: () => { throw new Error("QuotaExceeded"); }, removeItem: () => undefined };
    rememberChoice(chosen, broken);
    expect(choseHere(chosen, broken)).toBe(false);
    expect(choseHere(chosen)).toBe(false); // no window here: not this tab's choice
    expect(linkAsks(basic, "monthly", "WELCOME20")).toBe(
      "The link you opened asks to subscribe you to Basic (monthly) with the promotion code WELCOME20. Continue only if you meant to.",
    );
  });
});

describe("the patterns", () => {
  it("are the functions' own (openapi.yaml), so the app refuses nothing they accept", () => {
    const contract = readFileSync(new URL("../../openapi.yaml", import.meta.url), "utf8");
    const after = (field: string) => {
      const patterns = [...contract.matchAll(new RegExp(`\\n( +)${field}:\\n(?:\\1 .*\\n)*?\\1 +pattern: (.*)`, "g"))].map((m) => m[2]);
      expect(patterns.length, field).toBeGreaterThan(0);
      return new Set(patterns);
    };
    expect(after("price_id")).toEqual(new Set([PRICE_ID.source]));
    expect(after("promotion_code")).toEqual(new Set([PROMOTION_CODE.source.replace("{1,64}", "+")]));
  });
});
