"""The period a subject's usage counts in, and where its counts live: one file that is both
``billing.usage.periods`` (the functions read) and ``billing_usage.periods`` (the helper the
app's backends install consumes), so the two can never count in different periods."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import billing_usage.periods
from billing.usage import periods
from core.firestore import doc_id


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def test_the_functions_and_the_helper_load_the_same_file() -> None:
    assert Path(periods.__file__).samefile(billing_usage.periods.__file__)
    assert Path(billing_usage.periods.__file__).is_symlink()  # the helper links to it


def test_the_shared_file_imports_the_standard_library_only() -> None:
    tree = ast.parse(Path(periods.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    tops = {name.split(".")[0] for name in imported}
    assert tops <= set(sys.stdlib_module_names) | {"__future__"}, tops


@pytest.mark.parametrize(
    "subject", ["alice", "a/b", "__x__", "uid-sha256-abc", ".", "..", "é" * 800]
)
def test_counts_are_kept_under_the_document_id_the_functions_use(subject: str) -> None:
    assert periods.subject_doc_id(subject) == doc_id(subject)
    assert periods.period_path(subject, 42) == f"usage_counts/{doc_id(subject)}/periods/42"


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (ts(2026, 12, 31, 23, 59, 59), ts(2026, 12, 1), ts(2027, 1, 1)),  # the year's last second
        (ts(2027, 1, 1), ts(2027, 1, 1), ts(2027, 2, 1)),  # the next year's first
        (ts(2028, 2, 29, 12), ts(2028, 2, 1), ts(2028, 3, 1)),  # a leap day
        (ts(2027, 2, 28, 23, 59, 59), ts(2027, 2, 1), ts(2027, 3, 1)),  # no leap day
        (ts(2100, 2, 28), ts(2100, 2, 1), ts(2100, 3, 1)),  # 2100 is not a leap year
        (ts(2027, 4, 30, 23), ts(2027, 4, 1), ts(2027, 5, 1)),  # a 30-day month's end
    ],
)
def test_the_free_plan_counts_in_calendar_months_utc(now: int, start: int, end: int) -> None:
    period = periods.calendar_month(now)
    assert (period.start, period.end, period.source) == (start, end, "calendar_month")


# A January 31 anchor renews on the month's last day: Feb 29 (2028), then Mar 31 (Stripe's
# example, https://docs.stripe.com/billing/subscriptions/billing-cycle).
JAN31, FEB29, MAR31 = ts(2028, 1, 31, 9), ts(2028, 2, 29, 9), ts(2028, 3, 31, 9)


def test_a_written_period_is_used_as_it_is_up_to_its_last_second() -> None:
    assert periods.subscription_period(JAN31, FEB29, FEB29 - 1) == periods.Period(
        JAN31, FEB29, "subscription"
    )
    assert periods.subscription_period(JAN31, FEB29, JAN31).start == JAN31


def test_counts_reset_at_the_renewal_second_before_the_sync_writes_the_new_period() -> None:
    # The renewal's start is the only thing a count is keyed on (periods/{start}): exact.
    renewed = periods.subscription_period(JAN31, FEB29, FEB29)
    assert renewed.start == FEB29
    # Its end is an estimate (the last length) until the sync writes Stripe's (MAR31).
    assert renewed.end == FEB29 + (FEB29 - JAN31)
    written = periods.subscription_period(FEB29, MAR31, FEB29 + 1)
    assert (written.start, written.end) == (FEB29, MAR31)


def test_a_sync_late_by_several_periods_lands_in_the_one_that_holds_now() -> None:
    length = FEB29 - JAN31
    now = FEB29 + 5 * length + 7
    period = periods.subscription_period(JAN31, FEB29, now)
    assert period.start <= now < period.end
    assert (period.start - FEB29) % length == 0
    assert period.end - period.start == length


def test_a_broken_period_of_no_length_still_holds_now() -> None:
    # Counted as one second long (31 million periods in a year: skipped by arithmetic).
    period = periods.subscription_period(JAN31, JAN31, JAN31 + 365 * 86_400)
    assert period.start <= JAN31 + 365 * 86_400 < period.end


FREE = {"api_calls": periods.Limit(3, overage=False)}
PAID = {"api_calls": {"included": 1000, "overage": True}, "exports": {"included": 5}}


@pytest.mark.parametrize(
    ("entitlement", "free", "source"),
    [
        (None, True, "calendar_month"),
        ({"active": False}, True, "calendar_month"),
        (
            {"active": True, "limits": PAID, "usage_period": {"start": JAN31, "end": FEB29}},
            False,
            "subscription",
        ),
        ({"active": True, "limits": PAID, "usage_period": None}, True, "calendar_month"),
        (
            {"active": True, "limits": PAID, "usage_period": {"start": "x", "end": FEB29}},
            True,
            "calendar_month",
        ),
    ],
)
def test_the_plan_an_entitlement_gives(
    entitlement: dict[str, Any] | None, free: bool, source: str
) -> None:
    now = JAN31 + 10
    plan = periods.plan_of(entitlement, FREE, now)
    assert (plan.free, plan.period.source) == (free, source)
    assert plan.period.start <= now < plan.period.end
    if not free:
        assert plan.limits == {
            "api_calls": periods.Limit(1000, overage=True),
            "exports": periods.Limit(5, overage=False),
        }


def test_the_free_limits_the_sync_wrote_win_over_the_built_in_ones() -> None:
    written = {"active": False, "limits": {"api_calls": {"included": 1, "overage": False}}}
    assert periods.plan_of(written, FREE, JAN31).limits == {"api_calls": periods.Limit(1, False)}
    assert periods.plan_of(None, FREE, JAN31).limits == FREE


def test_counts_of_other_shapes_are_not_read_as_units() -> None:
    assert periods.used_in(None) == {}
    assert periods.used_in({"used": "lots"}) == {}
    assert periods.used_in({"used": {"api_calls": 4, "exports": "2"}}) == {"api_calls": 4}
