/**
 * A typed client for the billing functions, generated from openapi.yaml.
 *
 * `schema.d.ts` is written by `npm run client` (openapi-typescript) and checked against
 * openapi.yaml by the test suite; openapi-fetch does the calls. Each operation is its own
 * Cloud Function with its own URL, so the client maps a path ("/create-customer") to the URL
 * the configuration gives for that function.
 *
 *     const billing = createBillingClient({ functions, getIdToken: () => user.getIdToken() });
 *     const sub = unwrap(await billing.POST("/create-checkout-session", { body: { price_id } }));
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type { components, paths };
export type Schemas = components["schemas"];
/** A function's deployed name: "create-customer", "list-plans", ... */
export type FunctionName = keyof paths extends `/${infer Name}` ? Name : never;
export type BillingClient = Client<paths>;

export interface BillingClientOptions {
  /**
   * Where each function answers. Either one URL per function (the local stack: each runs on
   * its own port), or a base URL under which every function is `/<name>` (deployed:
   * https://REGION-PROJECT.cloudfunctions.net).
   */
  functions: Partial<Record<FunctionName, string>> | string;
  /** The signed-in user's Firebase ID token, or null when nobody is signed in. */
  getIdToken: () => Promise<string | null>;
  fetch?: typeof globalThis.fetch;
}

/** The error body every function answers: `{"error": {"code", "message", "field"?}}`. */
export class BillingError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "BillingError";
  }

  /**
   * 503 and 429 are worth trying again, and so are 502 and 504: a function that ran out of
   * time or a gateway in front of it (no JSON body); everything else needs a change first.
   */
  get retryable(): boolean {
    return [429, 502, 503, 504].includes(this.status);
  }
}

export function functionUrl(functions: BillingClientOptions["functions"], name: string): string {
  if (typeof functions === "string") return `${functions.replace(/\/+$/, "")}/${name}`;
  const url = functions[name as FunctionName];
  if (!url) throw new Error(`no URL configured for the function ${name}`);
  return url;
}

export function createBillingClient(options: BillingClientOptions): BillingClient {
  // openapi-fetch joins baseUrl and the path; this placeholder is replaced per request below.
  const placeholder = "http://billing.functions.invalid";
  const client = createClient<paths>({ baseUrl: placeholder, fetch: options.fetch });
  const route: Middleware = {
    async onRequest({ request, schemaPath }) {
      const target = new URL(functionUrl(options.functions, schemaPath.replace(/^\//, "")));
      target.search = new URL(request.url).search;
      // A copy of the body, not its stream: a streamed upload needs HTTP/2, which a plain
      // http:// function (the local stack) does not speak.
      const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.arrayBuffer();
      const routed = new Request(target, {
        method: request.method,
        headers: request.headers,
        body,
        signal: request.signal,
      });
      const token = await options.getIdToken();
      if (token) routed.headers.set("Authorization", `Bearer ${token}`);
      return routed;
    },
  };
  client.use(route);
  return client;
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The success body, or a BillingError carrying the function's own code and message. */
export function unwrap<T>(answer: Answer<T>): T {
  if (answer.data !== undefined && answer.response.ok) return answer.data;
  const body = (answer.error ?? {}) as { error?: { code?: string; message?: string; field?: string } };
  const status = answer.response.status;
  throw new BillingError(
    status,
    body.error?.code ?? `http_${status}`,
    body.error?.message ?? `The billing service answered ${status}.`,
    body.error?.field,
  );
}
