"""A request's own work is its latency minus every upstream wait: Stripe, Firestore and
Identity Toolkit (the webhook's billing claim), each overlap counted once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks import latency
from benchmarks.wire import TimingProxy


class FakeInstance:
    url = "http://127.0.0.1:9"

    def cpu_seconds(self) -> float:
        return 0.0


def test_identity_toolkit_wait_is_upstream_time_not_own_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One 10 ms request: Stripe 2 ms, a Firestore read inside it, then Identity Toolkit 3 ms.
    monkeypatch.setattr(latency, "run_driver", lambda *a, **k: [(10.0, 10.010, 200, "r1")])
    with (
        TimingProxy("http1") as stripe_wire,
        TimingProxy("h2") as firestore_wire,
        TimingProxy("http1") as auth_wire,
    ):
        for proxy, calls in (
            (stripe_wire, [(10.001, 10.003)]),
            (firestore_wire, [(10.0015, 10.0025)]),
            (auth_wire, [(10.005, 10.008)]),
        ):
            with proxy._lock:
                for start, end in calls:
                    proxy.record(start, end)
        bench: Any = SimpleNamespace(
            stripe_wire=stripe_wire, firestore_wire=firestore_wire, auth_wire=auth_wire
        )
        sample = latency.sample(bench, FakeInstance(), [{}], count=1, warmup=0)  # type: ignore[arg-type]
    assert sample.overheads == pytest.approx([5.0])  # 10 - (2 Stripe, Firestore within) - 3
    assert sample.overheads_by_sum == pytest.approx([4.0])  # the Firestore ms counted twice
    assert sample.auth_ms == pytest.approx([3.0])
    assert latency.summarize([sample])["auth_p50_ms"] == pytest.approx(3.0)
