"""Billing periods: adding months the way Stripe does, and a subscription's interval."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

JSONDict = dict[str, Any]

DAY = 86_400


def shift(anchor: int, interval: str, count: int, steps: int) -> int:
    """``anchor`` moved ``steps`` billing intervals ahead (month ends clamp, as Stripe does)."""
    if interval == "day":
        return anchor + DAY * count * steps
    if interval == "week":
        return anchor + 7 * DAY * count * steps
    moment = datetime.fromtimestamp(anchor, UTC)
    months = count * steps * (12 if interval == "year" else 1)
    year_offset, month_index = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + year_offset, month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def next_period_end(anchor: int, interval: str, count: int, after: int) -> int:
    steps = 1
    while (candidate := shift(anchor, interval, count, steps)) <= after:
        steps += 1
    return candidate


def recurring_of(sub: JSONDict) -> tuple[str, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    return str(recurring["interval"]), int(recurring["interval_count"])
