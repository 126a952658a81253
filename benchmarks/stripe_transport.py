"""One Stripe read three ways, side by side in one process: stripe-python's ``RequestsClient``
on one shared ``requests`` session (what the functions used until urllib3 took over) and the
functions' ``Urllib3Client`` (:mod:`billing.stripe_api.client`), both answering the JSON
(:mod:`billing.stripe_api.raw`); and the functions' client answering the SDK's typed objects
read back as the JSON a view takes (``retrieve`` then ``to_dict``, what the write paths did
until they took the JSON too).

The read is a subscription with its customer, price, product and latest invoice expanded (the
answer of retrieve-subscription's one Stripe call, ~4 KB), answered at once by a local HTTP
server on kept-alive connections. The figure is the calling thread's CPU per call (the server's
thread is not counted), the SDK's work included: building the request, sending it, reading and
parsing the answer. Rounds alternate which way goes first; medians, and their ratio.

Run: ``python -m benchmarks.stripe_transport`` (part of ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROUNDS = 8
CALLS = 300
EXPAND = ["customer", "items.data.price.product", "latest_invoice.payment_intent"]


def _subscription() -> bytes:
    """An expanded subscription of Stripe's published shape, about 4 KB."""
    product = {"id": "prod_basic", "object": "product", "name": "Basic", "active": True,
               "metadata": {"features": "reports,exports"}, "livemode": False}  # fmt: skip
    price = {"id": "price_basic_monthly", "object": "price", "currency": "usd",
             "unit_amount": 999, "recurring": {"interval": "month", "interval_count": 1,
             "usage_type": "licensed"}, "product": product, "active": True, "livemode": False,
             "type": "recurring", "lookup_key": "basic_monthly", "metadata": {}}  # fmt: skip
    item = {"id": "si_1", "object": "subscription_item", "price": price, "quantity": 1,
            "current_period_start": 1_790_000_000, "current_period_end": 1_792_600_000,
            "subscription": "sub_1", "metadata": {}}  # fmt: skip
    customer = {"id": "cus_1", "object": "customer", "email": "a@example.com",
                "invoice_settings": {"default_payment_method": "pm_1"},
                "metadata": {"firebase_uid": "u" * 28}, "livemode": False}  # fmt: skip
    intent = {"id": "pi_1", "object": "payment_intent", "status": "succeeded",
              "amount": 999, "currency": "usd", "client_secret": "pi_1_secret_x" * 2}  # fmt: skip
    invoice = {"id": "in_1", "object": "invoice", "status": "paid", "total": 999,
               "amount_due": 999, "currency": "usd", "customer": "cus_1",
               "payment_intent": intent, "hosted_invoice_url": "https://invoice.stripe.com/i/x",
               "lines": {"object": "list", "data": [], "has_more": False}}  # fmt: skip
    subscription = {
        "id": "sub_1", "object": "subscription", "status": "active", "customer": customer,
        "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                  "url": "/v1/subscription_items?subscription=sub_1"},
        "latest_invoice": invoice, "cancel_at_period_end": False, "currency": "usd",
        "default_payment_method": "pm_1", "metadata": {}, "livemode": False,
        "start_date": 1_790_000_000, "created": 1_790_000_000, "discounts": [],
    }  # fmt: skip
    return json.dumps(subscription).encode()


def _server(body: bytes) -> ThreadingHTTPServer:
    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections, as Stripe's
        disable_nagle_algorithm = True  # headers and body leave at once, as a server's do

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", "req_bench")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _requests_client(base: str) -> Any:
    """The functions' client before: stripe-python's RequestsClient on one shared session
    that reads nothing of the environment per call."""
    import requests
    import stripe

    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=16)
    session.mount("http://", adapter)
    return stripe.StripeClient(
        "sk_test_bench",
        base_addresses={"api": base},
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=(5.0, 30.0), session=session),
    )


def _urllib3_client(base: str) -> Any:
    import stripe

    from billing.stripe_api.client import Urllib3Client

    return stripe.StripeClient(
        "sk_test_bench",
        base_addresses={"api": base},
        max_network_retries=2,
        http_client=Urllib3Client((5.0, 30.0), base),
    )


def measure(calls: int = CALLS, rounds: int = ROUNDS) -> dict[str, Any]:
    from billing.stripe_api import raw

    server = _server(_subscription())
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        clients = {"requests": _requests_client(base), "urllib3": _urllib3_client(base)}

        def read(client: Any) -> Callable[[], Any]:
            return lambda: raw.get(client, "/v1/subscriptions/sub_1", expand=EXPAND)

        ways = {name: read(client) for name, client in clients.items()}
        typed = clients["urllib3"].v1.subscriptions
        ways["typed"] = lambda: typed.retrieve("sub_1", params={"expand": EXPAND}).to_dict()
        for way in ways.values():  # connections open, first-use costs paid
            for _ in range(20):
                way()
        per_call: dict[str, list[float]] = {name: [] for name in ways}
        for round_ in range(rounds):
            order = list(ways) if round_ % 2 == 0 else list(ways)[::-1]
            for name in order:
                began = time.thread_time()
                for _ in range(calls):
                    ways[name]()
                per_call[name].append((time.thread_time() - began) / calls * 1000)
    finally:
        server.shutdown()
        server.server_close()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(values), 3),
            "min_ms": round(min(values), 3),
            "max_ms": round(max(values), 3),
        }

    before, after = summary(per_call["requests"]), summary(per_call["urllib3"])
    typed = summary(per_call["typed"])
    return {
        "calls": calls,
        "rounds": rounds,
        "requests": before,
        "urllib3": after,
        "ratio": round(after["median_ms"] / before["median_ms"], 2),
        "typed": typed,
        "json_ratio": round(after["median_ms"] / typed["median_ms"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stripe_transport", description=__doc__
    )
    parser.add_argument("--calls", type=int, default=CALLS, help="calls per way per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    result = measure(args.calls, args.rounds)
    print(json.dumps(result, indent=2))  # noqa: T201 - the benchmark's output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
