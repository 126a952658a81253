"""Quotas enforced exactly: "may this subject use N more?", answered and consumed atomically.

:meth:`Quotas.consume` reads the subject's count for the period, and when the plan allows the
units writes the new count with a precondition on the version it read, in one atomic batch with
a marker for the usage id. Of many consumes racing for the last units exactly the ones that fit
win: every other write fails its precondition, re-reads, and is answered from the newer count.
A refusal is never written (a later upgrade may allow the same usage id); a consume of a usage
id that was consumed before returns that answer again and counts nothing.

One subject's consumes serialize on its period document: Firestore sustains about one write per
second per document (https://firebase.google.com/docs/firestore/quotas, "Soft limits"), bursts
beyond it are absorbed by the retry loop at the cost of latency. See ``docs`` for sharding.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from billing_usage import periods
from billing_usage.contract import ID, METER, InvalidUsage
from billing_usage.periods import Limit, Plan

# A consume that loses this many races in a row gives up with QuotaBusy: with N racers each
# loss means another consume won, so this bounds the wait, not the correctness.
MAX_ATTEMPTS = 200


class QuotaBusy(RuntimeError):
    """Too many consumes raced for this subject at once: nothing was counted; retry later."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    meter: str
    requested: int
    used: int  # in the period, after this consume when allowed
    included: int | None  # None: the plan has no quota for this meter (refused)
    overage: bool
    period_start: int
    period_end: int
    replayed: bool = False  # this usage id was consumed before; nothing counted now

    @property
    def remaining(self) -> int | None:
        if self.included is None:
            return None
        return max(self.included - self.used, 0)


class Quotas:
    def __init__(
        self,
        db: firestore.Client,
        *,
        free_plan: dict[str, Limit] | None = None,
        clock: Callable[[], float] = time.time,
        keep_markers_s: int = 40 * 86400,
    ) -> None:
        self._db = db
        self._free = dict(free_plan or {})
        self._clock = clock
        self._keep = keep_markers_s

    # --- reads ---------------------------------------------------------------------------

    def plan(self, subject: str) -> Plan:
        ref = self._db.collection(periods.ENTITLEMENTS).document(periods.subject_doc_id(subject))
        snapshot = ref.get()
        return periods.plan_of(
            snapshot.to_dict() if snapshot.exists else None, self._free, self._clock()
        )

    def _period_ref(self, subject: str, start: int) -> Any:
        return (
            self._db.collection(periods.COUNTS)
            .document(periods.subject_doc_id(subject))
            .collection(periods.PERIODS)
            .document(str(start))
        )

    def _marker_ref(self, subject: str, usage_id: str) -> Any:
        return (
            self._db.collection(periods.COUNTS)
            .document(periods.subject_doc_id(subject))
            .collection(periods.CONSUMED)
            .document(usage_id)
        )

    def check(self, subject: str, meter: str, units: int = 1) -> Decision:
        """Whether ``units`` more would be allowed now, counting nothing."""
        _check_args(meter, units)
        plan = self.plan(subject)
        snapshot = self._period_ref(subject, plan.period.start).get()
        return _decide(plan, meter, units, _used(snapshot, meter), consuming=False)

    # --- consume -------------------------------------------------------------------------

    def consume(self, subject: str, meter: str, units: int, usage_id: str) -> Decision:
        """Counts ``units`` against the subject's quota if its plan allows them, atomically.

        ``usage_id`` makes it idempotent: use the id you report the usage under, so a retry
        after a crash neither counts twice nor reports twice.
        """
        _check_args(meter, units)
        if not isinstance(usage_id, str) or not ID.match(usage_id):
            raise InvalidUsage("usage_id: as the usage contract's id")
        plan = self.plan(subject)
        period_ref = self._period_ref(subject, plan.period.start)
        marker_ref = self._marker_ref(subject, usage_id)
        for attempt in range(MAX_ATTEMPTS):
            counts, marker = _get_both(self._db, period_ref, marker_ref)
            if marker.exists:
                return _replay(plan, meter, marker.to_dict() or {}, _used(counts, meter))
            used = _used(counts, meter)
            decision = _decide(plan, meter, units, used, consuming=True)
            if not decision.allowed:
                return decision
            now = self._clock()
            batch = self._db.batch()
            fields = {
                "subject": subject,
                "period_start": plan.period.start,
                "period_end": plan.period.end,
                FieldPath("used", meter).to_api_repr(): used + units,
                "updated_at": now,
            }
            if counts.exists:
                batch.update(
                    period_ref,
                    fields,
                    option=self._db.write_option(last_update_time=counts.update_time),
                )
            else:
                batch.create(period_ref, _nested(fields, meter, used + units))
            batch.create(
                marker_ref,
                {
                    "meter": meter,
                    "units": units,
                    "period_start": plan.period.start,
                    "consumed_at": now,
                    "expire_at": _timestamp(now + self._keep),
                },
            )
            try:
                batch.commit()
            except (FailedPrecondition, AlreadyExists, Conflict):
                # Another consume wrote first: re-read; a short jittered pause spreads the herd.
                time.sleep(random.uniform(0, min(0.002 * (attempt + 1), 0.05)))  # noqa: S311
                continue
            return decision
        raise QuotaBusy(f"{MAX_ATTEMPTS} consumes of this subject's quota won in a row")


def _check_args(meter: str, units: int) -> None:
    if not isinstance(meter, str) or not METER.match(meter):
        raise InvalidUsage("meter: a meter event name (lower case, digits, '_' and '.')")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise InvalidUsage("units: a whole number, at least 1")


def _get_both(db: firestore.Client, first: Any, second: Any) -> tuple[Any, Any]:
    found = {snapshot.reference.path: snapshot for snapshot in db.get_all([first, second])}
    return found[first.path], found[second.path]


def _used(snapshot: Any, meter: str) -> int:
    if not snapshot.exists:
        return 0
    used = (snapshot.to_dict() or {}).get("used") or {}
    value = used.get(meter, 0) if isinstance(used, dict) else 0
    return value if isinstance(value, int) else 0


def _decide(plan: Plan, meter: str, units: int, used: int, *, consuming: bool) -> Decision:
    """The answer for ``units`` more; ``used`` in it counts them when they are consumed."""
    limit = plan.limits.get(meter)
    if limit is None:
        return Decision(False, meter, units, used, None, False, plan.period.start, plan.period.end)
    allowed = limit.allows(used, units)
    return Decision(
        allowed,
        meter,
        units,
        used + units if allowed and consuming else used,
        limit.included,
        limit.overage,
        plan.period.start,
        plan.period.end,
    )


def _replay(plan: Plan, meter: str, marker: dict[str, Any], used: int) -> Decision:
    limit = plan.limits.get(meter)
    return Decision(
        True,
        str(marker.get("meter", meter)),
        int(marker.get("units", 0)),
        used,
        limit.included if limit else None,
        limit.overage if limit else False,
        plan.period.start,
        plan.period.end,
        replayed=True,
    )


def _nested(fields: dict[str, Any], meter: str, used: int) -> dict[str, Any]:
    """The fields as create() takes them: a field path is update() notation only."""
    plain = {key: value for key, value in fields.items() if not key.startswith("used.")}
    return plain | {"used": {meter: used}}


def _timestamp(seconds: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)
