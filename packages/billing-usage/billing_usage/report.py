"""Publishing usage to the usage topic, for the metering function to record in Stripe.

Publishing is at least once (a timeout may hide a publish that happened); that is safe because
the metering function records each usage id once. So: on :class:`PublishFailed`, publish again
with the same id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from billing_usage.contract import UsageReport


class PublishFailed(RuntimeError):
    """The usage topic did not confirm the message: publish it again with the same id."""


class UsageReporter:
    def __init__(
        self,
        publisher: Any,  # google.cloud.pubsub_v1.PublisherClient
        topic: str,  # projects/{project}/topics/{name}
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not topic.startswith("projects/") or "/topics/" not in topic:
            raise ValueError("topic: the full path, projects/{project}/topics/{name}")
        self._publisher = publisher
        self._topic = topic
        self._timeout = timeout
        self._clock = clock

    def build(
        self, *, id: str, subject: str, meter: str, value: int = 1, timestamp: int | None = None
    ) -> UsageReport:
        return UsageReport(
            id=id,
            subject=subject,
            meter=meter,
            value=value,
            timestamp=int(self._clock()) if timestamp is None else timestamp,
        )

    def publish(self, report: UsageReport) -> Any:
        """Starts publishing; returns the publisher's future (its result is the message id)."""
        return self._publisher.publish(self._topic, report.data(), **report.attributes())

    def report(
        self, *, id: str, subject: str, meter: str, value: int = 1, timestamp: int | None = None
    ) -> str:
        """Publishes one usage report and waits until Pub/Sub has it; returns the message id."""
        future = self.publish(
            self.build(id=id, subject=subject, meter=meter, value=value, timestamp=timestamp)
        )
        try:
            return str(future.result(timeout=self._timeout))
        except Exception as error:
            raise PublishFailed(f"usage {id!r} not confirmed by Pub/Sub: {error}") from error
