"""change-plan's proration_date: only a moment that has passed, in the current period, and
recent enough (issue 15, point 5)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from billing.errors import BadRequest
from billing.operations.plan_changes import (
    CLOCK_SKEW_SECONDS,
    PREVIEW_LIFETIME_SECONDS,
    _check_in_period,
    _check_proration_date,
    stripe_now,
)

NOW = 2_000_000_000  # Stripe's now, whatever the wall clock says


@pytest.mark.parametrize(
    "offset", [CLOCK_SKEW_SECONDS + 5, 3600, 20 * 86_400, -PREVIEW_LIFETIME_SECONDS - 5]
)
def test_a_future_or_stale_date_is_refused_naming_the_field(offset: int) -> None:
    with pytest.raises(BadRequest) as caught:
        _check_proration_date(NOW + offset, NOW)
    assert caught.value.field == "proration_date"


@pytest.mark.parametrize("offset", [0, -60, -PREVIEW_LIFETIME_SECONDS + 5])
def test_a_recent_date_or_none_passes(offset: int) -> None:
    _check_proration_date(NOW + offset, NOW)
    _check_proration_date(None, NOW)


def test_a_date_before_the_current_period_is_refused() -> None:
    item: Any = SimpleNamespace(current_period_start=1_000_000)
    with pytest.raises(BadRequest) as caught:
        _check_in_period(999_999, item)
    assert caught.value.field == "proration_date"
    _check_in_period(1_000_000, item)
    _check_in_period(None, item)


def _ctx(frozen_time: int) -> tuple[Any, list[str]]:
    asked: list[str] = []

    def retrieve(clock_id: str) -> Any:
        asked.append(clock_id)
        return SimpleNamespace(frozen_time=frozen_time)

    clocks = SimpleNamespace(retrieve=retrieve)
    stripe_client = SimpleNamespace(
        v1=SimpleNamespace(test_helpers=SimpleNamespace(test_clocks=clocks))
    )
    return SimpleNamespace(runtime=SimpleNamespace(stripe=stripe_client)), asked


def test_stripes_now_is_the_test_clocks_frozen_time_when_the_customer_has_one() -> None:
    """A preview made on a test clock 40 days ahead is judged on that clock, not the wall's."""
    ahead = int(time.time()) + 40 * 86_400
    ctx, asked = _ctx(ahead)
    sub: Any = SimpleNamespace(test_clock="clock_1")
    assert stripe_now(ctx, sub) == ahead
    assert asked == ["clock_1"]
    _check_proration_date(ahead - 10, stripe_now(ctx, sub))  # fresh on Stripe's clock


def test_stripes_now_is_the_wall_clock_without_a_test_clock() -> None:
    ctx, asked = _ctx(0)
    before = int(time.time())
    sub: Any = SimpleNamespace(test_clock=None)
    assert before <= stripe_now(ctx, sub) <= int(time.time())
    assert asked == []
