import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { UsageTable } from "./Usage";

describe("UsageTable", () => {
  it("shows each meter's use, limit and what happens beyond it", () => {
    const html = renderToStaticMarkup(
      <UsageTable
        usage={{
          plan: "subscription",
          features: null,
          period_start: 1_800_000_000,
          period_end: 1_802_592_000,
          meters: [{ meter: "api_calls", used: 1234, included: 10000, remaining: 8766, overage: false }],
        }}
      />,
    );
    expect(html).toContain('data-testid="usage-api_calls"');
    expect(html).toContain("<td>1,234</td><td>10,000</td><td>8,766</td><td>refused</td>");
    expect(html).toContain("Your plan");
  });

  it("names the free plan", () => {
    const html = renderToStaticMarkup(
      <UsageTable usage={{ plan: "free", features: [], period_start: 0, period_end: 0, meters: [] }} />,
    );
    expect(html).toContain("Free plan");
    expect(html).toContain("No metered usage");
  });
});
