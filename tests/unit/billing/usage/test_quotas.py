"""The functions' read side of quotas and the team helper name the same documents and periods.

The helper (packages/billing-usage) consumes; the functions read what it wrote. Two copies of
a few lines, so this test requires both to answer alike on the same entitlements and times.
"""

from __future__ import annotations

from typing import Any

import pytest

from billing.usage import quotas
from billing_usage import periods

FREE_FUNCTIONS = {"api_calls": quotas.Limit(3, overage=False)}
FREE_HELPER = {"api_calls": periods.Limit(3, overage=False)}
PAID = {"api_calls": {"included": 1000, "overage": True}, "exports": {"included": 5}}
ENTITLEMENTS: list[dict[str, Any] | None] = [
    None,
    {"active": False},
    {"active": False, "limits": {"api_calls": {"included": 1, "overage": False}}},
    {
        "active": True,
        "limits": PAID,
        "usage_period": {"start": 1_700_000_000, "end": 1_702_592_000},
    },
    {
        "active": True,
        "limits": PAID,
        "usage_period": {"start": 1_600_000_000, "end": 1_602_592_000},
    },
    {"active": True, "limits": {"bad": "shape"}, "usage_period": None},
]
TIMES = [1_700_000_000, 1_701_000_000, 1_702_592_000, 1_735_689_599, 1_735_689_600]


@pytest.mark.parametrize("entitlement", ENTITLEMENTS)
@pytest.mark.parametrize("now", TIMES)
def test_both_copies_choose_the_same_plan_and_period(
    entitlement: dict[str, Any] | None, now: int
) -> None:
    ours = quotas.plan_of(entitlement, FREE_FUNCTIONS, now)
    theirs = periods.plan_of(entitlement, FREE_HELPER, now)
    assert (ours.period.start, ours.period.end, ours.free) == (
        theirs.period.start,
        theirs.period.end,
        theirs.free,
    )
    assert {k: (v.included, v.overage) for k, v in ours.limits.items()} == {
        k: (v.included, v.overage) for k, v in theirs.limits.items()
    }
    assert ours.period.start <= now < ours.period.end


@pytest.mark.parametrize("subject", ["alice", "a/b", "__x__", "uid-sha256-abc"])
def test_both_copies_name_the_same_counts_document(subject: str) -> None:
    helper_path = f"usage_counts/{periods.subject_doc_id(subject)}/periods/42"
    assert quotas.period_path(subject, 42) == helper_path
