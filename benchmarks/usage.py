"""Usage-based billing, measured: ``python -m benchmarks.usage`` (part of ``make bench``).

- Usage messages per second through one metering instance: the stack's ``record-usage``
  function (one instance, the registry's event concurrency) gets usage reports for 20
  customers through the usage topic, one in five published twice (a retry or a duplicate).
  Timed from the first publish until every unique usage is recorded in the ledger; then the
  Stripe stand-in's meter summaries must equal the unique sum.
- Stripe calls per 1,000 usage messages: the meter event calls the stand-in received, per
  1,000 messages published (duplicates included: the ledger answers those, not Stripe).
- Quota consumes per second (``billing_usage.Quotas.consume`` against the Firestore emulator,
  16 threads): spread over 200 subjects, and all on one subject (the serialized worst case).

Prints one table and writes ``benchmarks/usage-results.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from benchmarks.bench_stack import Bench, User, bench_stack
from billing_usage import Limit, Quotas, UsageReporter

OUTPUT = Path(__file__).with_name("usage-results.json")
SUBJECTS = 20
DUPLICATE_EVERY = 5


def _recorded(db: firestore.Client, meter: str) -> int:
    query = (
        db.collection("metered_usage")
        .where(filter=FieldFilter("meter", "==", meter))
        .where(filter=FieldFilter("status", "==", "recorded"))
    )
    counting: Any = query.count()  # its stubs type get() wrongly: a list of lists
    result = counting.get()
    return int(result[0][0].value)


def metering(bench: Bench, db: firestore.Client, count: int, timeout: float = 600) -> Any:
    from google.cloud import pubsub_v1

    info = bench.info
    event_name = f"bench_calls_{uuid.uuid4().hex[:8]}"
    meter = bench.sdk.v1.billing.meters.create(
        {
            "display_name": "Bench",
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
        }
    )
    users = [User(bench) for _ in range(SUBJECTS)]
    customers = {
        user.uid: str(user.call("create-customer", {"name": "Bench"})["customer_id"])
        for user in users
    }
    os.environ["PUBSUB_EMULATOR_HOST"] = info.pubsub_emulator_host
    publisher = pubsub_v1.PublisherClient()
    reporter = UsageReporter(publisher, f"projects/{info.project_id}/topics/{info.usage_topic}")
    unique = [
        reporter.build(
            id=f"bench-{uuid.uuid4().hex}",
            subject=users[n % SUBJECTS].uid,
            meter=event_name,
            value=1 + n % 5,
        )
        for n in range(count)
    ]
    messages = []
    for n, report in enumerate(unique):
        messages.append(report)
        if n % DUPLICATE_EVERY == 0:
            messages.append(report)
    requests.delete(f"{bench.control}/_standin/requests", timeout=10).raise_for_status()
    started = time.perf_counter()
    for future in [reporter.publish(report) for report in messages]:
        future.result(timeout=60)
    deadline = started + timeout
    while (done := _recorded(db, event_name)) < len(unique) and time.perf_counter() < deadline:
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    publisher.stop()
    calls = requests.get(
        f"{bench.control}/_standin/requests",
        params={"method": "POST", "path_prefix": "/v1/billing/meter_events"},
        timeout=10,
    ).json()["data"]
    now = int(time.time())
    start, end = now - now % 60 - 3600, now - now % 60 + 3600
    billed = 0.0
    for customer in customers.values():
        found = bench.sdk.v1.billing.meters.event_summaries.list(
            meter.id, {"customer": customer, "start_time": start, "end_time": end}
        )
        billed += found.data[0].aggregated_value
    expected = sum(report.value for report in unique)
    return {
        "messages": len(messages),
        "unique": len(unique),
        "recorded": done,
        "per_second": round(len(messages) / elapsed, 1),
        "stripe_calls_per_1000_messages": round(1000 * len(calls) / len(messages), 1),
        "summary_equals_unique_sum": billed == expected,
        "billed": billed,
        "expected": expected,
    }


def quotas(db: firestore.Client, consumes: int) -> Any:
    free = {"bench": Limit(included=10**9, overage=False)}
    quota = Quotas(db, free_plan=free)
    run = uuid.uuid4().hex[:8]

    def rate(subject_of: Any) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            decisions = list(
                pool.map(
                    lambda n: quota.consume(
                        subject_of(n), "bench", 1, f"q-{run}-{n}-{id(subject_of)}"
                    ),
                    range(consumes),
                )
            )
        assert all(decision.allowed for decision in decisions)
        return round(consumes / (time.perf_counter() - started), 1)

    spread = rate(lambda n: f"bench-quota-{run}-{n % 200}")
    one = rate(lambda n: f"bench-quota-{run}-hot")
    return {"consumes": consumes, "spread_per_second": spread, "one_subject_per_second": one}


def render(results: dict[str, Any]) -> str:
    m, q = results["metering"], results["quotas"]
    rows = [
        (
            "usage messages/s through one metering instance",
            f"{m['per_second']} ({m['messages']} messages, {m['unique']} unique)",
        ),
        ("Stripe calls per 1,000 usage messages", f"{m['stripe_calls_per_1000_messages']}"),
        (
            "meter summaries equal the unique sum",
            f"{m['summary_equals_unique_sum']} ({m['billed']:.0f} of {m['expected']})",
        ),
        ("quota consumes/s, 200 subjects, 16 threads", f"{q['spread_per_second']}"),
        ("quota consumes/s, one subject, 16 threads", f"{q['one_subject_per_second']}"),
    ]
    if "load_average" in results:
        load = results["load_average"]
        rows.append(("load average (1 min) before / after", f"{load['before']} / {load['after']}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    # These machines are shared: the 1-minute load average before and after says how busy.
    load_before = round(os.getloadavg()[0], 1)
    with bench_stack() as bench:
        # The stand-in's webhook deliveries would compete for the same CPU: held.
        requests.post(f"{bench.control}/_standin/webhooks/pause", timeout=10).raise_for_status()
        os.environ["FIRESTORE_EMULATOR_HOST"] = bench.info.firestore_emulator_host
        db = firestore.Client(project=bench.info.project_id, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        results = {
            "metering": metering(bench, db, 200 if quick else 1000),
            "quotas": quotas(db, 200 if quick else 1000),
            "load_average": {"before": load_before, "after": round(os.getloadavg()[0], 1)},
        }
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(render(results) + f"\n(JSON: {OUTPUT})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
