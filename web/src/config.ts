/** Everything the app needs to know about where it runs, read from /config.json at start. */
import type { BillingClientOptions } from "./client";

export interface AppConfig {
  /** One URL per function (local stack) or the functions' common base URL (deployed). */
  functions: BillingClientOptions["functions"];
  /** The Firebase web app's settings (Firebase console > Project settings > Your apps). */
  firebase: { apiKey: string; projectId: string; authDomain?: string; appId?: string };
  /** Local only: where the Auth and Firestore emulators listen. Absent when deployed. */
  emulators?: { auth?: string; firestore?: string; authLog?: string };
  /** Stripe test or live publishable key; without one the app uses Stripe's hosted pages. */
  stripePublishableKey?: string | null;
  productName?: string;
}

export async function loadConfig(url = "/config.json"): Promise<AppConfig> {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const config = (await response.json()) as Partial<AppConfig>;
  if (!config.functions || !config.firebase?.projectId || !config.firebase.apiKey) {
    throw new Error(`${url} must name functions and firebase.{apiKey,projectId}`);
  }
  return config as AppConfig;
}
