import {
  createUserWithEmailAndPassword,
  onAuthStateChanged,
  sendEmailVerification,
  signInWithEmailAndPassword,
  signOut,
  type User,
} from "firebase/auth";
import { doc, onSnapshot } from "firebase/firestore";
import { useCallback, useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { afterSignInAt, choiceIsHere, rememberChoice, signInLink, signInPath, type AfterSignIn } from "./afterSignIn";
import { createBillingClient, unwrap, type BillingClient, type Schemas } from "./client";
import type { AppConfig } from "./config";
import type { Firebase } from "./firebase";
import { describe, intervalLabel, money, renewal, when } from "./format";
import { Pricing } from "./Pricing";
import { UsageCard } from "./Usage";

type Plan = Schemas["Plan"];
type Preview = Schemas["PlanChangePreview"];
type Invoice = Schemas["InvoiceRow"];

/** The entitlement document the webhook keeps (entitlements/{uid}); see docs/frontend.md. */
interface Entitlement {
  active: boolean;
  status: string;
  subscription_id: string | null;
  price_id: string | null;
  product_id: string | null;
  current_period_end: number | null;
  cancel_at_period_end: boolean;
  valid_until: number | null;
  features: string[];
  /** A downgrade waiting for the period end (DOWNGRADE_POLICY=period_end). */
  pending_price_id?: string | null;
  pending_from?: number | null;
  version?: number;
}

type Page = "pricing" | "account" | "signin";

function pageAt(location: Pick<Location, "pathname">): Page {
  const path = location.pathname;
  return path.startsWith("/account") ? "account" : path.startsWith("/signin") ? "signin" : "pricing";
}

/** The address the tab is at, as a link names it. */
function here(): string {
  return window.location.pathname + window.location.search;
}

export function App({ config, firebase }: { config: AppConfig; firebase: Firebase }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [page, setPage] = useState<Page>(() => pageAt(window.location));
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Where sign-in leads (the sign-in page's URL carries it through a sign-up's reload). Read
  // from the address at start and on every navigation (`follow`), never kept from before.
  const [after, setAfter] = useState<AfterSignIn>(() => afterSignInAt(window.location));
  // A link whose plan or next page is refused says so at once, on the sign-in page.
  useEffect(() => {
    if (after.kind === "refused") setError(after.message);
  }, [after]);

  useEffect(() => onAuthStateChanged(firebase.auth, setUser), [firebase.auth]);
  // The tab is now at another address (a link here, Back, Forward): the page and the choice
  // pending are what that address says. Back from `/signin?plan=...` to the plans drops the
  // plan, so it is not taken up if the tab becomes signed in later; Forward brings it back.
  const follow = useCallback(() => {
    setPage(pageAt(window.location));
    setAfter(afterSignInAt(window.location));
    setError(null);
    setNotice(null);
  }, []);
  useEffect(() => {
    window.addEventListener("popstate", follow);
    return () => window.removeEventListener("popstate", follow);
  }, [follow]);

  const billing = useMemo(
    () =>
      createBillingClient({
        functions: config.functions,
        getIdToken: async () => (firebase.auth.currentUser ? firebase.auth.currentUser.getIdToken() : null),
      }),
    [config.functions, firebase.auth],
  );

  // A link to the address the tab is at adds no second history entry.
  const go = (path: string) => {
    if (path !== here()) window.history.pushState(null, "", path);
    follow();
  };
  const verified = Boolean(user?.emailVerified);
  // Signed in (and verified) on the sign-in page: on to the page the link named, else to the
  // plans (which go on to pay for a plan chosen before signing in).
  const shown: Page = page === "signin" && verified ? (after.kind === "page" && after.path === "/account" ? "account" : "pricing") : page;
  useEffect(() => {
    if (shown !== page) {
      // Replaced, not pushed: Back from Checkout returns to the plans, not to the sign-in
      // link, which would start paying again. `after` is kept: it hands the choice the
      // sign-in link carried to the pricing page shown in its place.
      window.history.replaceState(null, "", `/${shown}`);
      setPage(shown);
    }
  }, [shown, page]);

  /** Runs a user action; a failure shows the function's own message. */
  const run = useCallback(async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(describe(caught));
    }
  }, []);

  if (user === undefined) return <p>Loading…</p>;
  return (
    <div className="shell">
      <header>
        <strong>{config.productName ?? "Acme Cloud"}</strong>
        <nav>
          <a href="/pricing" onClick={(e) => (e.preventDefault(), go("/pricing"))}>Pricing</a>
          {user && <a href="/account" onClick={(e) => (e.preventDefault(), go("/account"))}>Account</a>}
          {user === null && (
            // On the sign-in page, the plan (or page) its link carries stays in it.
            <a href={signInLink(after)} onClick={(e) => (e.preventDefault(), go(signInLink(after)))}>
              Sign in
            </a>
          )}
          {user && (
            <button className="link" onClick={() => void signOut(firebase.auth)}>
              Sign out ({user.email})
            </button>
          )}
        </nav>
      </header>
      {error && <div role="alert" className="error">{error}</div>}
      {notice && <div role="status" className="notice">{notice}</div>}
      {shown === "pricing" ? (
        // Public: prices before an account; Subscribe asks for sign-in first.
        <Pricing
          billing={billing}
          run={run}
          config={config}
          canSubscribe={verified}
          onSignInNeeded={(plan, promotionCode) => {
            // This tab chose it: once signed in, it goes on to pay without another click.
            rememberChoice({ priceId: plan.price_id, promotionCode });
            go(signInPath({ priceId: plan.price_id, promotionCode }));
            setNotice(`Sign in or create an account to subscribe to ${plan.product_name}.`);
          }}
          chosen={after.kind === "plan" ? after.chosen : null}
          onChosenHandled={() => setAfter({ kind: "pricing" })}
        />
      ) : !user ? (
        <SignIn firebase={firebase} run={run} />
      ) : !user.emailVerified ? (
        <VerifyEmail user={user} run={run} choseAPlan={after.kind === "plan" && choiceIsHere(after.chosen)} authLog={config.emulators?.auth ? (config.emulators.authLog ?? ".devstack/logs/auth.log") : null} />
      ) : (
        <Account user={user} billing={billing} firebase={firebase} run={run} setNotice={setNotice} />
      )}
    </div>
  );
}

type Run = (action: () => Promise<void>) => Promise<void>;

function SignIn({ firebase, run }: { firebase: Firebase; run: Run }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const submit = (mode: "up" | "in") => (event?: FormEvent) => {
    event?.preventDefault();
    void run(async () => {
      if (mode === "up") {
        const made = await createUserWithEmailAndPassword(firebase.auth, email, password);
        await sendEmailVerification(made.user);
      } else {
        await signInWithEmailAndPassword(firebase.auth, email, password);
      }
    });
  };
  return (
    <form className="card" onSubmit={submit("in")}>
      <h1>Sign in</h1>
      <label>
        Email <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
      </label>
      <label>
        Password
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      </label>
      <div className="row">
        <button type="submit">Sign in</button>
        <button type="button" onClick={submit("up")}>Create account</button>
      </div>
    </form>
  );
}

function VerifyEmail({
  user,
  run,
  choseAPlan,
  authLog,
}: {
  user: User;
  run: Run;
  choseAPlan: boolean;
  authLog: string | null;
}) {
  return (
    <div className="card">
      <h1>Verify your email</h1>
      <p>
        We sent a link to {user.email}. Receipts go to this address, so billing needs it verified.
        {choseAPlan && " Then you go on to pay for the plan you chose."}
      </p>
      {authLog && (
        <p data-testid="local-link">
          Running locally: the Auth emulator sends no mail; it writes the link to <code>{authLog}</code>. Open it
          there, then come back here.
        </p>
      )}
      <div className="row">
        <button
          onClick={() =>
            void run(async () => {
              await user.reload();
              await user.getIdToken(true); // the new token says email_verified: true
              if (!user.emailVerified) throw new Error("The address is not verified yet.");
              window.location.reload();
            })
          }
        >
          I have verified my email
        </button>
        <button className="link" onClick={() => void run(() => sendEmailVerification(user))}>
          Send the link again
        </button>
      </div>
    </div>
  );
}

function Account({
  user,
  billing,
  firebase,
  run,
  setNotice,
}: {
  user: User;
  billing: BillingClient;
  firebase: Firebase;
  run: Run;
  setNotice: (text: string | null) => void;
}) {
  const [entitlement, setEntitlement] = useState<Entitlement | null | undefined>(undefined);
  const [claim, setClaim] = useState<unknown>(undefined);
  const [plans, setPlans] = useState<Plan[]>([]);
  const [invoices, setInvoices] = useState<Invoice[] | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);

  // The webhook writes this document when Stripe reports a change: no reload, no polling.
  useEffect(
    () =>
      onSnapshot(
        doc(firebase.db, "entitlements", user.uid),
        (snapshot) => setEntitlement(snapshot.exists() ? (snapshot.data() as Entitlement) : null),
        (failure) => setNotice(`Live updates stopped: ${failure.message}`),
      ),
    [firebase.db, user.uid, setNotice],
  );
  // The ID token carries the same state as a custom claim; it is only as fresh as the token,
  // so refresh the token whenever the document changes (docs/frontend.md).
  useEffect(() => {
    if (entitlement === undefined) return;
    let stopped = false;
    // The webhook writes the claim just after the document: refresh until they agree.
    const refresh = async () => {
      for (let attempt = 0; attempt < 6 && !stopped; attempt++) {
        const claims = (await user.getIdTokenResult(true)).claims;
        const billing = (claims.billing ?? null) as { price?: string } | null;
        if (!stopped) setClaim(billing);
        const wanted = entitlement?.active ? entitlement.price_id : null;
        if ((billing?.price ?? null) === wanted) return;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      }
    };
    void refresh();
    return () => {
      stopped = true;
    };
  }, [entitlement, user]);

  const loadInvoices = useCallback(
    () => run(async () => setInvoices(unwrap(await billing.POST("/list-invoices", { body: { limit: 10 } })).invoices)),
    [billing, run],
  );
  useEffect(() => {
    void run(async () => setPlans(unwrap(await billing.GET("/list-plans")).plans));
  }, [billing, run]);
  useEffect(() => {
    if (entitlement?.subscription_id) void loadInvoices();
  }, [entitlement?.subscription_id, entitlement?.version, loadInvoices]);

  if (entitlement === undefined) return <p>Loading your account…</p>;
  const params = new URLSearchParams(window.location.search);
  const subscription = entitlement?.subscription_id ?? null;
  const plan = plans.find((p) => p.price_id === entitlement?.price_id);
  const pending = plans.find((p) => p.price_id === entitlement?.pending_price_id);

  const previewChange = (priceId: string) =>
    run(async () => {
      setPreview(null);
      if (!subscription) return;
      setPreview(
        unwrap(await billing.POST("/preview-plan-change", { body: { subscription_id: subscription, price_id: priceId } })),
      );
    });
  const confirmChange = (shown: Preview) =>
    run(async () => {
      const result = unwrap(
        await billing.POST("/change-plan", {
          body: { subscription_id: shown.subscription_id, price_id: shown.price_id, proration_date: shown.proration_date },
        }),
      );
      setPreview(null);
      setNotice(
        result.status === "scheduled"
          ? `Your plan changes on ${when(result.effective_at ?? null)}; nothing is charged now.`
          : (result.message ?? `Plan changed; ${money(result.amount_due, shown.currency)} charged now.`),
      );
    });
  // Re-selecting the current plan drops a downgrade waiting for the period end.
  const keepPlan = (priceId: string) =>
    run(async () => {
      if (!subscription) return;
      unwrap(await billing.POST("/change-plan", { body: { subscription_id: subscription, price_id: priceId } }));
      setPreview(null);
      setNotice("Your plan stays as it is.");
    });
  const setCancel = (cancel: boolean) =>
    run(async () => {
      if (!subscription) return;
      unwrap(
        await billing.POST("/handle-subscription", { body: { subscription_id: subscription, cancel_at_period_end: cancel } }),
      );
    });
  const portal = () =>
    run(async () => window.location.assign(unwrap(await billing.POST("/create-portal-session", { body: {} })).url));

  return (
    <section>
      <h1>Your account</h1>
      {params.get("checkout") === "done" && !entitlement?.active && (
        <p role="status">Payment received; waiting for Stripe to confirm your subscription…</p>
      )}
      <div className="card" data-testid="access">
        <h2>
          Access: <span data-testid="access-state">{entitlement?.active ? "active" : "none"}</span>
        </h2>
        {entitlement ? (
          <dl>
            <dt>Plan</dt>
            <dd data-testid="plan">
              {plan ? `${plan.product_name} (${intervalLabel(plan.interval, plan.interval_count)})` : (entitlement.price_id ?? "none")}
            </dd>
            <dt>Status</dt>
            <dd data-testid="status">{entitlement.status}</dd>
            <dt>Features</dt>
            <dd data-testid="features">{entitlement.features.join(", ") || "none"}</dd>
            <dt>{renewal(entitlement).label}</dt>
            <dd data-testid="renewal">{renewal(entitlement).text}</dd>
            {entitlement.pending_price_id && (
              <>
                <dt>Next plan</dt>
                <dd data-testid="pending-plan">
                  {pending ? pending.product_name : entitlement.pending_price_id} from {when(entitlement.pending_from ?? null)}
                </dd>
              </>
            )}
          </dl>
        ) : (
          <p>
            No subscription yet. <a href="/pricing">See the plans</a>.
          </p>
        )}
        <details>
          <summary>In your ID token</summary>
          <pre data-testid="claim">{JSON.stringify(claim ?? null)}</pre>
        </details>
      </div>

      {entitlement?.active && subscription && (
        <div className="card">
          <h2>Change plan</h2>
          <div className="row">
            {plans
              .filter((p) => p.price_id !== entitlement.price_id || entitlement.pending_price_id)
              .map((p) =>
                p.price_id === entitlement.price_id ? (
                  <button key={p.price_id} data-price={p.price_id} onClick={() => void keepPlan(p.price_id)}>
                    Keep {p.product_name} ({intervalLabel(p.interval, p.interval_count)})
                  </button>
                ) : (
                  <button key={p.price_id} data-price={p.price_id} onClick={() => void previewChange(p.price_id)}>
                    Switch to {p.product_name} ({intervalLabel(p.interval, p.interval_count)})
                  </button>
                ),
              )}
          </div>
          {preview && (
            <div className="preview" data-testid="preview">
              {preview.takes_effect === "period_end" ? (
                <p>
                  Due now: <strong data-testid="preview-amount">{money(0, preview.currency)}</strong>. The new plan
                  starts on {when(preview.effective_at)}; its first invoice{" "}
                  {money(preview.next_invoice.total, preview.currency)}.
                </p>
              ) : (
              <p>
                Due now: <strong data-testid="preview-amount">{money(preview.amount_due_now, preview.currency)}</strong>{" "}
                ({money(preview.charge, preview.currency)} for the new plan less {money(preview.credit, preview.currency)}{" "}
                unused time). Next invoice {money(preview.next_invoice.total, preview.currency)} on{" "}
                {when(preview.next_invoice.date)}.
              </p>
              )}
              <div className="row">
                <button onClick={() => void confirmChange(preview)}>Confirm change</button>
                <button className="link" onClick={() => setPreview(null)}>
                  Keep my plan
                </button>
              </div>
            </div>
          )}
          <h2>Cancellation</h2>
          {entitlement.cancel_at_period_end ? (
            <button onClick={() => void setCancel(false)}>Resume subscription</button>
          ) : (
            <button onClick={() => void setCancel(true)}>Cancel at period end</button>
          )}
        </div>
      )}

      <UsageCard
        billing={billing}
        run={run}
        version={`${entitlement?.price_id ?? "free"}:${entitlement?.version ?? 0}:${entitlement?.current_period_end ?? 0}`}
      />

      {entitlement && <CustomerTools portal={portal} />}

      {invoices && (
        <div className="card">
          <h2>Invoices</h2>
          <table data-testid="invoices">
            <thead>
              <tr>
                <th>Number</th>
                <th>Date</th>
                <th>Total</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {invoices.map((invoice) => (
                <tr key={invoice.id}>
                  <td>{invoice.number ?? invoice.id}</td>
                  <td>{when(invoice.created)}</td>
                  <td>{money(invoice.total, invoice.currency)}</td>
                  <td>
                    {invoice.status}
                    {/* A renewal waits as a draft about an hour before Stripe charges it; a failed
                        charge is retried on Stripe's schedule. */}
                    {invoice.status === "draft" && invoice.charges_at
                      ? ` · ${money(invoice.amount_due, invoice.currency)} charged on ${when(invoice.charges_at)}`
                      : ""}
                    {invoice.status === "open" && invoice.next_payment_attempt
                      ? ` · retried on ${when(invoice.next_payment_attempt)}`
                      : ""}
                  </td>
                  <td>
                    {invoice.hosted_invoice_url && (
                      <a href={invoice.hosted_invoice_url} target="_blank" rel="noreferrer">
                        View
                      </a>
                    )}{" "}
                    {invoice.invoice_pdf && (
                      <a href={invoice.invoice_pdf} target="_blank" rel="noreferrer">
                        PDF
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CustomerTools({ portal }: { portal: () => Promise<void> }): ReactNode {
  return (
    <div className="card">
      <h2>Billing portal</h2>
      <p>Update your card, see past invoices or cancel on Stripe&apos;s page. Plans with usage are changed above.</p>
      <button onClick={() => void portal()}>Open the billing portal</button>
    </div>
  );
}
