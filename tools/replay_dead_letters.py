"""Replay dead-lettered notifications: republish each, then acknowledge only what was republished.

A notification that failed every push attempt waits in the dead-letter subscription (the alert
fires while one does). Once the cause is fixed, this moves them back to the notifications topic:

    python -m tools.replay_dead_letters --project=PROJECT \\
        --subscription=billing-notifications-dead-letter --topic=billing-notifications

It pulls a few messages at a time and, for each, publishes the same data and attributes to the
topic and waits for Pub/Sub to confirm before it acknowledges that one message. A message whose
republish fails is handed back at once (ack deadline 0) and the replay stops with a non-zero
exit, so nothing is acknowledged that was not republished. A confirmed republish whose
acknowledgement is lost (deadline passed, connection dropped) is pulled and republished again
later: harmless, the email function sends once per notification id.

With PUBSUB_EMULATOR_HOST set, the clients talk to the emulator (the tests do).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Protocol

from google.api_core import exceptions as google_exceptions
from google.cloud import pubsub_v1

PULL_BATCH = 10
PUBLISH_TIMEOUT_S = 30.0
PULL_TIMEOUT_S = 10.0
# A synchronous pull may come back empty (or wait out its timeout) while messages remain: stop
# after a few empty pulls in a row.
EMPTY_PULLS_TO_STOP = 3


def pull(
    subscriber: pubsub_v1.SubscriberClient, subscription: str, count: int
) -> list[pubsub_v1.types.ReceivedMessage]:
    """Up to ``count`` messages; none when the pull waited out its timeout."""
    try:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": count},
            timeout=PULL_TIMEOUT_S,
            retry=None,
        )
    except google_exceptions.DeadlineExceeded:
        return []
    return list(response.received_messages)


@dataclass
class Outcome:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)  # message ids left in the subscription
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


class Publish(Protocol):
    def __call__(self, data: bytes, attributes: dict[str, str]) -> None: ...


def replay(
    subscriber: pubsub_v1.SubscriberClient,
    subscription: str,
    publish: Publish,
    max_messages: int = 1000,
) -> Outcome:
    """Moves up to ``max_messages`` from ``subscription`` through ``publish``; see module doc."""
    outcome = Outcome()
    empty = 0
    while outcome.replayed < max_messages and empty < EMPTY_PULLS_TO_STOP:
        received = pull(subscriber, subscription, min(PULL_BATCH, max_messages - outcome.replayed))
        if not received:
            empty += 1
            continue
        empty = 0
        for index, item in enumerate(received):
            message = item.message
            try:
                publish(bytes(message.data), dict(message.attributes))
            except Exception as exc:  # noqa: BLE001 - any failure: keep this and the rest
                outcome.failed = [m.message.message_id for m in received[index:]]
                outcome.error = f"{type(exc).__name__}: {exc}"
                subscriber.modify_ack_deadline(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in received[index:]],
                        "ack_deadline_seconds": 0,
                    }
                )
                return outcome
            subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [item.ack_id]})
            outcome.replayed += 1
    return outcome


def topic_publisher(publisher: pubsub_v1.PublisherClient, topic: str) -> Publish:
    def publish(data: bytes, attributes: dict[str, str]) -> None:
        publisher.publish(topic, data, **attributes).result(timeout=PUBLISH_TIMEOUT_S)

    return publish


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--subscription", required=True, help="the dead-letter subscription id")
    parser.add_argument("--topic", required=True, help="the notifications topic id")
    parser.add_argument("--max-messages", type=int, default=1000)
    args = parser.parse_args(argv)
    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    subscription = subscriber.subscription_path(args.project, args.subscription)
    topic = publisher.topic_path(args.project, args.topic)
    try:
        outcome = replay(
            subscriber, subscription, topic_publisher(publisher, topic), args.max_messages
        )
    except google_exceptions.GoogleAPICallError as exc:
        sys.stderr.write(f"replay stopped, nothing unpublished was acknowledged: {exc}\n")
        return 1
    finally:
        subscriber.close()
    sys.stdout.write(f"replayed {outcome.replayed}, left {len(outcome.failed)}\n")
    if not outcome.ok:
        sys.stderr.write(
            f"republishing failed ({outcome.error}); {len(outcome.failed)} messages stay in "
            f"{args.subscription}: fix the cause and run again\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
