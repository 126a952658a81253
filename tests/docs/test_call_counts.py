"""docs/performance.md's table of Stripe calls and Firestore round trips per operation says
what the last `make bench` run counted (``calls_per_operation`` in benchmarks/results.json):
a count written by hand there drifts when an operation changes, and this fails when it did."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "performance.md"
HEADING = "### Stripe calls and Firestore round trips per operation"

# The doc's row -> the bench's operation, and which number of each cell is the one it counted
# (the first, unless the row names another case first: retrieve-subscription's count is the
# refresh's, in brackets; the webhook's is for a user without a Firebase account, the bench's).
# update-payment-method's Stripe cell is "4 + one per live subscription" (None): the bench's
# user has one.
ROWS: dict[str, tuple[str, int | None, int]] = {
    "create-customer (first)": ("create-customer (first)", 0, 0),
    "create-customer (again)": ("create-customer (again)", 0, 0),
    "create-subscription": ("create-subscription", 0, 0),
    "handle-subscription": ("handle-subscription", 0, 0),
    "retrieve-subscription": ("retrieve-subscription", 1, 1),
    "retrieve-payment-method": ("retrieve-payment-method", 0, 0),
    "create-setup-intent": ("create-setup-intent", 0, 0),
    "update-payment-method": ("update-payment-method", None, 0),
    "retry-invoice": ("retry-invoice", 0, 0),
    "stripe-webhook, an event with nothing to tell (e.g. `customer.subscription.updated`)": (
        "stripe-webhook (subscription updated)",
        0,
        1,
    ),
    "stripe-webhook, a redelivery of a processed event": ("stripe-webhook (redelivery)", 0, 0),
    "stripe-webhook, `invoice.paid` (publishes a receipt)": (
        "stripe-webhook (invoice paid, a receipt)",
        0,
        1,
    ),
}


def _table() -> dict[str, list[str]]:
    section = DOC.read_text().split(HEADING, 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5:
            rows[cells[0]] = cells
    return rows


def _numbers(cell: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", cell)]


def test_the_call_counts_in_the_docs_are_the_last_runs() -> None:
    results = json.loads((REPO / "benchmarks" / "results.json").read_text())
    measured = {row["operation"]: row for row in results["calls_per_operation"]}
    table = _table()
    assert set(ROWS) <= set(table), sorted(set(ROWS) - set(table))
    for name, (operation, stripe_at, firestore_at) in ROWS.items():
        _, stripe_cell, _, firestore_cell, _ = table[name]
        run = measured[operation]
        numbers = _numbers(stripe_cell)
        stripe = numbers[0] + 1 if stripe_at is None else numbers[stripe_at]
        assert (name, stripe) == (name, run["stripe_calls"])
        assert (name, _numbers(firestore_cell)[firestore_at]) == (name, run["firestore_wire"])
