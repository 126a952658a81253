/**
 * This period's usage and limits per meter, from get-usage (the typed client): what a SaaS
 * shows beside the plan so a customer sees a quota coming before a request is refused.
 */
import { useEffect, useState } from "react";
import { unwrap, type BillingClient, type Schemas } from "./client";
import { when } from "./format";

type Usage = Schemas["UsageResponse"];

const count = (value: number) => value.toLocaleString("en-US");

export function UsageTable({ usage }: { usage: Usage }) {
  return (
    <div className="card" data-testid="usage">
      <h2>Usage this period</h2>
      <p>
        {usage.plan === "free" ? "Free plan" : "Your plan"}: counts reset {when(usage.period_end)}.
      </p>
      {usage.meters.length === 0 ? (
        <p>No metered usage on this plan.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Meter</th>
              <th>Used</th>
              <th>Included</th>
              <th>Left</th>
              <th>Beyond the limit</th>
            </tr>
          </thead>
          <tbody>
            {usage.meters.map((meter) => (
              <tr key={meter.meter} data-testid={`usage-${meter.meter}`}>
                <td>{meter.meter}</td>
                <td>{count(meter.used)}</td>
                <td>{count(meter.included)}</td>
                <td>{count(meter.remaining)}</td>
                <td>{meter.overage ? "billed per unit" : "refused"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Reads get-usage again whenever `version` changes (the entitlement document's version: a
 * new plan brings new limits and a new period). */
export function UsageCard({
  billing,
  run,
  version,
}: {
  billing: BillingClient;
  run: (action: () => Promise<void>) => Promise<void>;
  version: string;
}) {
  const [usage, setUsage] = useState<Usage | null>(null);
  useEffect(() => {
    void run(async () => setUsage(unwrap(await billing.POST("/get-usage", { body: {} }))));
  }, [billing, run, version]);
  return usage ? <UsageTable usage={usage} /> : null;
}
