"""Own overhead subtracts the time upstream calls were open once, however many overlapped."""

from __future__ import annotations

from benchmarks.wire import TimingProxy, busy, union


def test_overlapping_calls_are_one_wait() -> None:
    assert union([]) == 0
    assert union([(0.0, 1.0), (2.0, 3.0)]) == 2.0
    assert union([(0.0, 2.0), (1.0, 3.0)]) == 3.0  # two reads at once, partly
    assert union([(0.0, 3.0), (1.0, 2.0)]) == 3.0  # one inside the other
    assert union([(1.0, 2.0), (0.0, 1.5), (2.0, 2.5)]) == 2.5  # unordered, touching


def test_a_stripe_and_a_firestore_call_at_once_count_once() -> None:
    with TimingProxy("http1") as stripe_wire, TimingProxy("h2") as firestore_wire:
        with stripe_wire._lock:
            stripe_wire.record(10.0, 10.004)
        with firestore_wire._lock:
            firestore_wire.record(10.001, 10.003)  # read while Stripe answered
            firestore_wire.record(10.005, 10.006)
        waited = busy([stripe_wire, firestore_wire], 10.0, 10.010)
        assert abs(waited - 0.005) < 1e-9
        # The sum of the two (what the bench subtracted before) counted 2 ms twice.
        separately = stripe_wire.busy(10.0, 10.010) + firestore_wire.busy(10.0, 10.010)
        assert abs(separately - 0.007) < 1e-9
        # Calls outside the window are clipped to it.
        assert abs(busy([stripe_wire], 10.002, 10.003) - 0.001) < 1e-9
