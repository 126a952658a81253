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
)


@pytest.mark.parametrize(
    "offset", [CLOCK_SKEW_SECONDS + 5, 3600, 20 * 86_400, -PREVIEW_LIFETIME_SECONDS - 5]
)
def test_a_future_or_stale_date_is_refused_naming_the_field(offset: int) -> None:
    with pytest.raises(BadRequest) as caught:
        _check_proration_date(int(time.time()) + offset)
    assert caught.value.field == "proration_date"


@pytest.mark.parametrize("offset", [0, -60, -PREVIEW_LIFETIME_SECONDS + 5])
def test_a_recent_date_or_none_passes(offset: int) -> None:
    _check_proration_date(int(time.time()) + offset)
    _check_proration_date(None)


def test_a_date_before_the_current_period_is_refused() -> None:
    item: Any = SimpleNamespace(current_period_start=1_000_000)
    with pytest.raises(BadRequest) as caught:
        _check_in_period(999_999, item)
    assert caught.value.field == "proration_date"
    _check_in_period(1_000_000, item)
    _check_in_period(None, item)
