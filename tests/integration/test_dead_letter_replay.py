"""The dead-letter replay (docs/deploy.md) on the real Pub/Sub emulator: it acknowledges a
message only after its republish is confirmed, so a failed republish loses nothing."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from google.cloud import pubsub_v1

from devstack.stack import StackInfo
from tools import replay_dead_letters

pytestmark = pytest.mark.integration


class Clients:
    def __init__(self, info: StackInfo) -> None:
        self.project = info.project_id
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        name = uuid.uuid4().hex[:10]
        self.dead_topic = self.publisher.topic_path(self.project, f"dlq-{name}")
        self.dead = self.subscriber.subscription_path(self.project, f"dlq-{name}")
        self.target_topic = self.publisher.topic_path(self.project, f"notes-{name}")
        self.target = self.subscriber.subscription_path(self.project, f"notes-{name}")
        for topic, subscription in ((self.dead_topic, self.dead), (self.target_topic, self.target)):
            self.publisher.create_topic(request={"name": topic})
            self.subscriber.create_subscription(
                request={"name": subscription, "topic": topic, "ack_deadline_seconds": 10}
            )

    def dead_letter(self, count: int) -> list[bytes]:
        bodies = [f'{{"notification_id": "evt_{i}:receipt"}}'.encode() for i in range(count)]
        for body in bodies:
            self.publisher.publish(self.dead_topic, body, type="receipt").result(timeout=30)
        return bodies

    def drain(self, subscription: str, expect: int = 0) -> list[pubsub_v1.types.PubsubMessage]:
        """Every message waiting in ``subscription`` (acknowledged), pulling until empty, and
        until ``expect`` arrived or a minute passed (a handed-back message may come back only
        after the ack deadline)."""
        found: list[pubsub_v1.types.PubsubMessage] = []
        empty = 0
        deadline = time.monotonic() + 60
        while empty < replay_dead_letters.EMPTY_PULLS_TO_STOP or (
            len(found) < expect and time.monotonic() < deadline
        ):
            received = replay_dead_letters.pull(self.subscriber, subscription, 50)
            if not received:
                empty += 1
                continue
            empty = 0
            found += [item.message for item in received]
            self.subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [i.ack_id for i in received]}
            )
        return found


@pytest.fixture
def clients(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    # The emulator holds an empty pull open for its whole timeout, and a replay stops after
    # three empty pulls: 10 s each made these three tests cost ~3 minutes. Every message is
    # published (and confirmed) before a replay starts, so a shorter empty pull proves the same.
    monkeypatch.setattr(replay_dead_letters, "PULL_TIMEOUT_S", 3.0)
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.pubsub_emulator_host
    made = Clients(stack)
    yield made
    made.subscriber.close()


def test_every_message_is_republished_with_its_attributes_then_acknowledged(
    clients: Clients,
) -> None:
    bodies = clients.dead_letter(23)  # more than one pull's batch
    outcome = replay_dead_letters.replay(
        clients.subscriber,
        clients.dead,
        replay_dead_letters.topic_publisher(clients.publisher, clients.target_topic),
    )
    assert outcome.ok
    assert outcome.replayed == 23
    republished = clients.drain(clients.target)
    assert sorted(m.data for m in republished) == sorted(bodies)
    assert {m.attributes["type"] for m in republished} == {"receipt"}
    assert clients.drain(clients.dead) == []


def test_a_failed_republish_leaves_that_message_and_the_rest_in_the_dead_letters(
    clients: Clients,
) -> None:
    clients.dead_letter(5)
    published: list[bytes] = []
    real = replay_dead_letters.topic_publisher(clients.publisher, clients.target_topic)

    def flaky(data: bytes, attributes: dict[str, str]) -> None:
        if len(published) == 2:
            raise TimeoutError("publish not confirmed")
        real(data, attributes)
        published.append(data)

    outcome = replay_dead_letters.replay(clients.subscriber, clients.dead, flaky)
    assert not outcome.ok
    assert outcome.replayed == 2
    assert "TimeoutError" in outcome.error
    # Nothing that was not republished was acknowledged: handed back at once, pulled again.
    left = clients.drain(clients.dead, expect=3)
    assert len(left) == 3
    assert not {m.data for m in left} & set(published)
    assert sorted(m.data for m in clients.drain(clients.target)) == sorted(published)


def test_the_command_says_what_it_did_and_fails_when_something_stays(
    clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.dead_letter(3)
    argv = [
        f"--project={clients.project}",
        f"--subscription={clients.dead.rsplit('/', 1)[1]}",
        f"--topic={clients.target_topic.rsplit('/', 1)[1]}",
    ]
    assert replay_dead_letters.main(argv) == 0
    assert capsys.readouterr().out.strip() == "replayed 3, left 0"
    assert len(clients.drain(clients.target)) == 3
