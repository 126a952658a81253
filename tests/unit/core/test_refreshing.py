"""core.refreshing: one refresh at a time, the lock never held during it, the last good copy
served when the source fails (list-plans during a Stripe outage)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe

from billing.operations import pricing
from billing.runtime import Runtime
from core.refreshing import RefreshingCache

# A thread waits on an event with a deadline this generous: a loaded machine never needs it,
# and a broken cache fails instead of hanging.
DEADLINE = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What the cache reads: counts its reads; fails while ``failing``."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing: BaseException | None = None

    def __call__(self) -> str:
        self.reads += 1
        if self.failing is not None:
            raise self.failing
        return f"catalog-{self.reads}"


def _cache(clock: Clock, refresh_wait: float = DEADLINE) -> RefreshingCache[str, str]:
    return RefreshingCache(
        stale_limit=3600, retry_after_failure=15, refresh_wait=refresh_wait, clock=clock
    )


def test_a_fresh_copy_is_not_read_again() -> None:
    clock, source = Clock(), Source()
    cache = _cache(clock)
    first = cache.get("k", source, ttl=300)
    clock.now += 299
    second = cache.get("k", source, ttl=300)
    assert (first.value, second.value, source.reads) == ("catalog-1", "catalog-1", 1)
    assert not second.stale
    clock.now += 1
    assert cache.get("k", source, ttl=300).value == "catalog-2", "expired: read again"


def test_the_last_good_copy_is_served_when_the_source_fails() -> None:
    clock, source = Clock(), Source()
    cache = _cache(clock)
    cache.get("k", source, ttl=300)
    clock.now += 400
    source.failing = stripe.APIConnectionError("Stripe is down")
    served = cache.get("k", source, ttl=300)
    assert (served.value, served.stale, served.fetched_at) == ("catalog-1", True, 1_000_000.0)
    assert source.reads == 2
    # Within the back-off: the stale copy again, Stripe not asked.
    clock.now += 14
    assert cache.get("k", source, ttl=300).stale
    assert source.reads == 2, "an outage is not hammered by every page view"
    clock.now += 1
    cache.get("k", source, ttl=300)
    assert source.reads == 3, "tried again after the back-off"
    source.failing = None
    clock.now += 15
    back = cache.get("k", source, ttl=300)
    assert (back.value, back.stale) == ("catalog-4", False)


def test_without_a_copy_or_with_one_too_old_the_error_is_raised() -> None:
    clock, source = Clock(), Source()
    cache = _cache(clock)
    source.failing = stripe.APIConnectionError("Stripe is down")
    with pytest.raises(stripe.APIConnectionError):
        cache.get("k", source, ttl=300)
    source.failing = None
    cache.get("k", source, ttl=300)
    clock.now += 3601
    source.failing = stripe.APIConnectionError("Stripe is down")
    with pytest.raises(stripe.APIConnectionError):
        cache.get("k", source, ttl=300)


def test_the_lock_is_not_held_during_the_read_and_readers_get_the_held_copy() -> None:
    clock = Clock()
    cache = _cache(clock)
    cache.get("k", lambda: "old", ttl=300)
    clock.now += 301
    reading, release = threading.Event(), threading.Event()
    lock_free_during_read: list[bool] = []

    def slow() -> str:
        reading.set()
        free = cache._lock.acquire(blocking=False)
        if free:
            cache._lock.release()
        lock_free_during_read.append(free)
        assert release.wait(DEADLINE)
        return "new"

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(cache.get, "k", slow, 300)
        assert reading.wait(DEADLINE)
        # While Stripe is slow: another reader is answered at once, from the held copy, and
        # does not start a second read. Not stale: nothing failed, a refresh is under way (a
        # page would otherwise tell its visitor of an outage that is none).
        other = cache.get("k", lambda: pytest.fail("a second read while one is under way"), 300)
        assert (other.value, other.stale) == ("old", False)
        release.set()
        assert leader.result(DEADLINE).value == "new"
    assert lock_free_during_read == [True]
    assert cache.get("k", lambda: "unused", ttl=300).value == "new"


def test_a_hanging_source_holds_the_refreshing_caller_no_longer_than_refresh_wait() -> None:
    clock = Clock()
    cache = _cache(clock, refresh_wait=0.05)
    cache.get("k", lambda: "old", ttl=300)
    clock.now += 301
    release = threading.Event()

    def hanging() -> str:
        assert release.wait(DEADLINE)
        return "new"

    with ThreadPoolExecutor(1) as pool:
        # The caller that leads the refresh is answered the held copy while the source hangs
        # (stale: the source could not be read just now), not after the source's timeouts.
        leader = pool.submit(cache.get, "k", hanging, 300)
        served = leader.result(DEADLINE / 2)  # the source hangs for DEADLINE
        assert (served.value, served.stale) == ("old", True)
        # The read goes on: no second one starts, and its answer is the next caller's.
        assert cache.get("k", lambda: pytest.fail("a second read"), 300).value == "old"
        release.set()
        for reader in [t for t in threading.enumerate() if t.name == "refresh-k"]:
            reader.join(DEADLINE)  # gone already if it finished
    fresh = cache.get("k", lambda: pytest.fail("read again"), 300)
    assert (fresh.value, fresh.stale) == ("new", False)


def test_after_a_failure_a_copy_served_during_the_next_refresh_is_stale() -> None:
    clock, source = Clock(), Source()
    cache = _cache(clock)
    cache.get("k", source, ttl=300)
    clock.now += 301
    source.failing = stripe.APIConnectionError("Stripe is down")
    assert cache.get("k", source, ttl=300).stale
    clock.now += 15  # the back-off is over: the next caller refreshes, slowly
    reading, release = threading.Event(), threading.Event()

    def slow() -> str:
        reading.set()
        assert release.wait(DEADLINE)
        return "new"

    with ThreadPoolExecutor(1) as pool:
        leader = pool.submit(cache.get, "k", slow, 300)
        assert reading.wait(DEADLINE)
        other = cache.get("k", lambda: pytest.fail("a second read"), 300)
        assert (other.value, other.stale) == ("catalog-1", True), "Stripe failed last time"
        release.set()
        assert leader.result(DEADLINE).value == "new"


def test_a_cold_cache_reads_once_for_everyone_waiting() -> None:
    cache = _cache(Clock())
    reading, release = threading.Event(), threading.Event()
    reads: list[int] = []

    def slow() -> str:
        reads.append(1)
        reading.set()
        assert release.wait(DEADLINE)
        return "catalog"

    with ThreadPoolExecutor(3) as pool:
        leader = pool.submit(cache.get, "k", slow, 300)
        assert reading.wait(DEADLINE)
        followers = [pool.submit(cache.get, "k", slow, 300) for _ in range(2)]
        release.set()
        answers = [f.result(DEADLINE).value for f in [leader, *followers]]
    assert answers == ["catalog"] * 3
    assert len(reads) == 1


# --- list-plans on top of it ---------------------------------------------------------------


def _runtime(stripe_client: object, price_ids: list[str]) -> Runtime:
    settings = SimpleNamespace(
        allowed_price_ids=price_ids, metered_price_ids={}, pricing_cache_seconds=300
    )
    return Runtime(cast(Any, settings), stripe_client=cast(Any, stripe_client))


def test_list_plans_answers_the_last_good_copy_marked_stale_when_stripe_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(pricing, "new_cache", lambda: _cache(clock))
    monkeypatch.setattr("billing.operations.pricing.time.time", clock)
    plans: list[Any] = []
    outcome: list[BaseException | None] = [None]

    def read_plans(client: object, price_ids: list[str], metered: object) -> list[Any]:
        if outcome[0] is not None:
            raise outcome[0]
        return plans

    monkeypatch.setattr(pricing, "read_plans", read_plans)
    ctx: Any = SimpleNamespace(runtime=_runtime(object(), ["price_a"]))
    fresh = pricing.list_plans(ctx, pricing.PricingRequest())
    assert (fresh.stale, fresh.age, fresh.max_age) == (False, 0, 300)
    clock.now += 600
    outcome[0] = stripe.APIError("Stripe answered 500")
    stale = pricing.list_plans(ctx, pricing.PricingRequest())
    assert (stale.stale, stale.age, stale.fetched_at) == (True, 600, fresh.fetched_at)
    assert stale.max_age == 15, "browsers keep it until Stripe is tried again"


def test_each_runtime_has_its_own_catalog_copy_even_with_the_same_price_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two apps in one process (a test building two against two stand-ins, or a key switched
    to another account or mode) offer the same price ids with different amounts: each is
    answered its own Stripe's catalog, never the copy the other runtime read."""

    def read_plans(client: Any, price_ids: list[str], metered: object) -> list[pricing.Plan]:
        return [
            pricing.Plan(
                price_id=price,
                product_id="prod_basic",
                product_name="Basic",
                product_description=None,
                unit_amount=client.amount,
                currency="usd",
                interval="month",
                interval_count=1,
                features=[],
                metered=[],
            )
            for price in price_ids
        ]

    def amounts(ctx: Any) -> list[int | None]:
        return [
            plan.unit_amount for plan in pricing.list_plans(ctx, pricing.PricingRequest()).plans
        ]

    monkeypatch.setattr(pricing, "read_plans", read_plans)
    first = SimpleNamespace(runtime=_runtime(SimpleNamespace(amount=999), ["price_basic"]))
    second = SimpleNamespace(runtime=_runtime(SimpleNamespace(amount=1500), ["price_basic"]))
    assert amounts(first) == [999]
    assert amounts(second) == [1500], "not the copy the first runtime read"
    # Each keeps its own copy for the period: the first is still answered its own.
    assert amounts(first) == [999]
