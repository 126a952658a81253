"""Metered usage for the app's own backends: report it, and enforce quotas exactly.

    from google.cloud import firestore, pubsub_v1
    import billing_usage

    usage = billing_usage.Usage(
        firestore.Client(), pubsub_v1.PublisherClient(), "projects/P/topics/usage",
        free_plan={"api_calls": billing_usage.Limit(included=100, overage=False)},
    )
    decision = usage.use(subject=uid, meter="api_calls", units=1, id=request_id)
    if not decision.allowed:
        ...  # answer 429: the quota is used up for this period

``use`` consumes from the subject's quota and then reports the usage for billing, both keyed on
``id``: call it again with the same id after any failure and nothing is counted twice.
"""

from __future__ import annotations

from typing import Any

from billing_usage.contract import InvalidUsage, UsageReport
from billing_usage.periods import Limit, Period, Plan
from billing_usage.quota import Decision, QuotaBusy, Quotas
from billing_usage.report import PublishFailed, UsageReporter

__all__ = [
    "Decision",
    "InvalidUsage",
    "Limit",
    "Period",
    "Plan",
    "PublishFailed",
    "QuotaBusy",
    "Quotas",
    "Usage",
    "UsageReport",
    "UsageReporter",
]


class Usage:
    """Quota first, then the report: usage that was refused is never billed."""

    def __init__(
        self,
        db: Any,
        publisher: Any,
        topic: str,
        *,
        free_plan: dict[str, Limit] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.quotas = Quotas(db, free_plan=free_plan)
        self.reporter = UsageReporter(publisher, topic, timeout=timeout)

    def use(self, *, subject: str, meter: str, units: int, id: str) -> Decision:
        report = self.reporter.build(id=id, subject=subject, meter=meter, value=units)
        decision = self.quotas.consume(subject, meter, units, id)
        if decision.allowed:
            self.reporter.report(
                id=report.id,
                subject=subject,
                meter=meter,
                value=units,
                timestamp=report.timestamp,
            )
        return decision
