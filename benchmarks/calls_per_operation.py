"""How many Stripe calls and Firestore round trips each operation makes, measured.

Starts a local stack (or uses a running one: ``--stack .devstack/stack.json``), walks a new
user through every operation, and prints, per operation, the Stripe requests the stand-in
recorded, and the Firestore round trips twice: as counted on the wire between the functions
and the emulator (a proxy counting gRPC calls, when this script starts the stack) and as the
function logged them (its ``firestore_round_trips`` field), next to the article's flow.
Part of ``make bench`` (:mod:`benchmarks.__main__`); alone:
``.venv/bin/python -m benchmarks.calls_per_operation``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import requests
import stripe

from benchmarks import events
from benchmarks.wire import TimingProxy
from devstack.stack import Stack, StackInfo
from devstack.tokens import mint_token

REPO = Path(__file__).resolve().parents[1]

# Stripe calls the article's handlers make for the same step (its Lambda code, read by hand).
ARTICLE = {
    "create-customer": "1",
    "create-subscription": "3",
    "handle-subscription": "1",
    "retrieve-subscription": "1",
    "retrieve-payment-method": "1",
    "create-setup-intent": "-",
    "update-payment-method": "2",
    "retry-invoice": "3",
    "preview-plan-change": "-",
    "change-plan": "-",
    "list-invoices": "-",
    "create-checkout-session": "-",
    "create-portal-session": "-",
}


class CallCounter(Protocol):
    @property
    def calls(self) -> int: ...


class Probe:
    def __init__(self, info: StackInfo, wire: CallCounter | None) -> None:
        self.info = info
        self.wire = wire
        assert info.stripe.control_url
        assert info.stripe.api_base
        self.control = info.stripe.control_url
        self.sdk = stripe.StripeClient(
            "sk_test_bench", base_addresses={"api": info.stripe.api_base}
        )
        self.rows: list[dict[str, Any]] = []

    def _seq(self) -> int:
        data = requests.get(f"{self.control}/_standin/requests", timeout=10).json()["data"]
        return max((r["seq"] for r in data), default=0)

    def _since(self, seq: int) -> list[dict[str, Any]]:
        data = requests.get(f"{self.control}/_standin/requests", timeout=10).json()["data"]
        return [r for r in data if r["seq"] > seq]

    def _logged(self, function: str, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for line in self.info.log_file(function).read_text().splitlines():
                if request_id in line and '"httpRequest"' in line:
                    entry: dict[str, Any] = json.loads(line)
                    return entry
            time.sleep(0.05)
        raise RuntimeError(f"no request log line for {function} {request_id}")

    def call(self, token: str, function: str, body: dict[str, Any], label: str = "") -> Any:
        return self._send(
            function,
            label,
            json.dumps(body).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    def settle(self, quiet: float = 0.5, limit: float = 10.0) -> None:
        """Waits until no Firestore call has passed for ``quiet`` seconds: work a function does
        after answering (the email function's, for a published receipt) must not be counted
        against the next operation."""
        if self.wire is None:
            return
        deadline = time.monotonic() + limit
        seen = self.wire.calls
        while time.monotonic() < deadline:
            time.sleep(quiet)
            if self.wire.calls == seen:
                return
            seen = self.wire.calls

    def deliver(self, event: dict[str, Any], label: str) -> Any:
        """Posts ``event`` to the webhook, signed as Stripe would."""
        secret = self.info.stripe.webhook_secret
        assert secret is not None
        signed = events.signed(event, secret)
        return self._send("stripe-webhook", label, signed["body"].encode(), signed["headers"])

    def _send(self, function: str, label: str, body: bytes, headers: dict[str, str]) -> Any:
        before = self._seq()
        wire_before = self.wire.calls if self.wire else 0
        started = time.perf_counter()
        response = requests.post(
            self.info.function_url(function), data=body, headers=headers, timeout=60
        )
        elapsed = time.perf_counter() - started
        wire = self.wire.calls - wire_before if self.wire else None
        if response.status_code != 200:
            raise RuntimeError(f"{function}: {response.status_code} {response.text}")
        stripe_requests = self._since(before)
        logged = self._logged(function, response.headers["X-Request-Id"])
        self.rows.append(
            {
                "operation": function + (f" ({label})" if label else ""),
                "function": function,
                "stripe": len(stripe_requests),
                "stripe_detail": ", ".join(f"{r['method']} {r['path']}" for r in stripe_requests),
                "firestore": logged.get("firestore_round_trips"),
                "wire": wire,
                "ms": elapsed * 1000,
            }
        )
        return response.json()


def save_card(probe: Probe, token: str, card: str) -> str:
    """create-setup-intent, then the confirmation Stripe.js would make."""
    intent = probe.call(token, "create-setup-intent", {})
    confirmed = probe.sdk.v1.setup_intents.confirm(
        intent["setup_intent_id"], params={"payment_method": card}
    )
    return str(confirmed.payment_method)


def walk(probe: Probe) -> None:
    uid = f"bench-{uuid.uuid4().hex[:10]}"
    token = mint_token(uid, f"{uid}@example.com", project_id=probe.info.project_id)
    customer_ids = probe.call(token, "create-customer", {"name": "Bench"}, "first")
    probe.call(token, "create-customer", {}, "again")
    sub = probe.call(token, "create-subscription", {"price_id": "price_basic_monthly"})
    pi = sub["client_secret"].split("_secret_")[0]
    with suppress(stripe.CardError):
        probe.sdk.v1.payment_intents.confirm(
            pi, params={"payment_method": "pm_card_chargeDeclined"}
        )
    view = probe.call(token, "retrieve-subscription", {"subscription_id": sub["subscription_id"]})
    invoice = view["latest_invoice"]["id"]
    visa = save_card(probe, token, "pm_card_visa")
    probe.call(token, "retry-invoice", {"invoice_id": invoice, "payment_method_id": visa})
    probe.call(
        token,
        "handle-subscription",
        {"subscription_id": sub["subscription_id"], "cancel_at_period_end": True},
    )
    pm = save_card(probe, token, "pm_card_mastercard")
    probe.call(token, "update-payment-method", {"payment_method_id": pm})
    probe.call(token, "retrieve-payment-method", {"payment_method_id": pm})
    customer = customer_ids["customer_id"]
    subscription = {"id": sub["subscription_id"], "object": "subscription", "customer": customer}
    update = events.event("customer.subscription.updated", subscription)
    probe.deliver(update, "subscription updated")
    probe.deliver(update, "redelivery")
    paid = {"id": invoice, "object": "invoice", "customer": customer}
    probe.deliver(events.event("invoice.paid", paid), "invoice paid, a receipt")
    probe.settle()  # the email function's own round trips for that receipt, counted nowhere


def walk_self_service(probe: Probe) -> None:
    """Plan changes, a promotion code, invoice history, and the hosted pages."""
    uid = f"bench-{uuid.uuid4().hex[:10]}"
    token = mint_token(uid, f"{uid}@example.com", project_id=probe.info.project_id)
    probe.call(token, "create-customer", {"name": "Bench"}, "first")
    sub = probe.call(
        token,
        "create-subscription",
        {"price_id": "price_basic_monthly", "promotion_code": "WELCOME20"},
        "with a code",
    )
    pi = sub["client_secret"].split("_secret_")[0]
    probe.sdk.v1.payment_intents.confirm(pi, params={"payment_method": "pm_card_visa"})
    change = {"subscription_id": sub["subscription_id"], "price_id": "price_pro_monthly"}
    preview = probe.call(token, "preview-plan-change", change)
    probe.call(token, "preview-plan-change", {**change, "promotion_code": "PRO5OFF"}, "with a code")
    probe.call(
        token, "change-plan", {**change, "proration_date": preview["proration_date"]}, "upgrade"
    )
    probe.call(token, "change-plan", {**change, "price_id": "price_basic_monthly"}, "downgrade")
    page = probe.call(token, "list-invoices", {"limit": 2}, "first page")
    probe.call(token, "list-invoices", {"starting_after": page["next_starting_after"]}, "next page")
    probe.call(token, "create-portal-session", {})
    newcomer = f"bench-{uuid.uuid4().hex[:10]}"
    token = mint_token(newcomer, f"{newcomer}@example.com", project_id=probe.info.project_id)
    probe.call(token, "create-customer", {}, "first")
    probe.call(token, "create-checkout-session", {"price_id": "price_pro_monthly"})


@contextmanager
def running_stack(stack_file: Path | None) -> Iterator[tuple[StackInfo, TimingProxy | None]]:
    if stack_file is not None:
        yield StackInfo.load(stack_file), None
        return
    with tempfile.TemporaryDirectory() as state, TimingProxy("h2") as wire:
        # The documented defaults, not a developer's .env: the numbers must be comparable.
        shutil.copy(REPO / ".env.example", Path(state) / ".env.example")
        overrides = {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{wire.port}"}
        with Stack(state_dir=Path(state), env_dir=Path(state), env_overrides=overrides) as info:
            host, port = info.firestore_emulator_host.rsplit(":", 1)
            wire.target = (host, int(port))  # functions connect on their first request
            # The stand-in's own webhook deliveries would add the webhook's Stripe reads to
            # whichever operation is being counted: the walk delivers its events itself.
            assert info.stripe.control_url is not None
            control = f"{info.stripe.control_url}/_standin/webhooks/pause"
            requests.post(control, timeout=10).raise_for_status()
            yield info, wire


def measure(info: StackInfo, wire: CallCounter | None, rounds: int = 1) -> list[dict[str, Any]]:
    """One row per operation (first round): Stripe calls, Firestore round trips, article."""
    requests.delete(f"{info.stripe.control_url}/_standin/requests", timeout=10)
    probe = Probe(info, wire)
    for _ in range(rounds):
        walk(probe)
    rows: dict[str, dict[str, Any]] = {}
    for row in probe.rows:
        if row["operation"] not in rows:
            rows[row["operation"]] = {
                "operation": row["operation"],
                "stripe_calls": row["stripe"],
                "article": ARTICLE.get(row["function"], "-"),
                "firestore_wire": row["wire"],
                "firestore_logged": row["firestore"],
                "stripe_requests": row["stripe_detail"],
            }
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, help="stack.json of a running stack")
    parser.add_argument("--rounds", type=int, default=3, help="users walked through (latency)")
    args = parser.parse_args()
    with running_stack(args.stack) as (info, wire):
        probe = Probe(info, wire)
        for _ in range(args.rounds):
            walk(probe)
            walk_self_service(probe)
    by_op: dict[str, list[dict[str, Any]]] = {}
    for row in probe.rows:
        by_op.setdefault(row["operation"], []).append(row)
    header = (
        f"{'operation':42} {'stripe':>6} {'article':>7} {'fs wire':>7} {'fs log':>6} {'p50 ms':>7}"
    )
    print(header)  # noqa: T201
    print("-" * len(header))  # noqa: T201
    for op, rows in by_op.items():
        first = rows[0]
        p50 = statistics.median(r["ms"] for r in rows)
        print(  # noqa: T201
            f"{op:42} {first['stripe']:>6} {ARTICLE.get(first['function'], '-'):>7} "
            f"{first['wire'] if first['wire'] is not None else 'n/a':>7} "
            f"{first['firestore']!s:>6} {p50:>7.1f}"
        )
    print("\nStripe requests per operation (first round):")  # noqa: T201
    seen = set()
    for row in probe.rows:
        if row["operation"] not in seen:
            seen.add(row["operation"])
            print(f"  {row['operation']}: {row['stripe_detail'] or '(none)'}")  # noqa: T201


if __name__ == "__main__":
    main()
