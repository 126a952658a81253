"""The email function in the local stack: real Pub/Sub and Firestore emulators, real SMTP.

Messages go through the emulator's push subscription to functions-framework exactly as in
the cloud; mails land in the stack's SMTP sink (.eml files) or in a test's own SMTP server.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from core.pubsub_push import Redeliver
from devstack import procs
from devstack.stack import Stack, StackInfo, dead_letter_topic, push_subscription
from mailer.compose import Brand, Composer, message_id
from mailer.handler import Mailer, Outcome
from mailer.once import COLLECTION, SENDING, SENT, FirestoreClaims, State
from mailer.smtp import SmtpSender
from tests.conftest import mail_settings
from tests.support.mail_server import MailServer, mail_server
from tests.support.stack import wait_for
from tests.support.stack_fixtures import extra_function
from tools.mail_samples import SAMPLES

pytestmark = pytest.mark.integration


def fresh(sample: str = "payment_succeeded-usd") -> dict[str, Any]:
    """A sample notification with an event id no other test uses."""
    document: dict[str, Any] = json.loads(json.dumps(SAMPLES[sample]))
    event = f"evt_{uuid.uuid4().hex}"
    document["notification_id"] = f"{event}:{document['type']}"
    return document


class PubSub:
    """The Pub/Sub emulator's REST API."""

    def __init__(self, info: StackInfo) -> None:
        self.host, self.project = info.pubsub_emulator_host, info.project_id
        self.api = f"http://{self.host}/v1/projects/{self.project}"

    def publish(self, topic: str, *messages: bytes | dict[str, Any]) -> list[str]:
        body = []
        for message in messages:
            if isinstance(message, dict):
                data = json.dumps(message).encode()
                attributes = {
                    key: str(message[key]) for key in ("type", "version", "notification_id")
                }
            else:
                data, attributes = message, {}
            body.append({"data": base64.b64encode(data).decode(), "attributes": attributes})
        response = requests.post(
            f"{self.api}/topics/{topic}:publish", json={"messages": body}, timeout=10
        )
        response.raise_for_status()
        ids: list[str] = response.json()["messageIds"]
        return ids

    def pull(self, subscription: str) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.api}/subscriptions/{subscription}:pull",
            json={"maxMessages": 10, "returnImmediately": True},
            timeout=10,
        )
        response.raise_for_status()
        received: list[dict[str, Any]] = response.json().get("receivedMessages", [])
        if received:
            requests.post(
                f"{self.api}/subscriptions/{subscription}:acknowledge",
                json={"ackIds": [item["ackId"] for item in received]},
                timeout=10,
            ).raise_for_status()
        return received

    def subscription(self, name: str) -> dict[str, Any]:
        response = requests.get(f"{self.api}/subscriptions/{name}", timeout=10)
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture(scope="module")
def pubsub(stack: StackInfo) -> PubSub:
    return PubSub(stack)


def topic_of(stack: StackInfo) -> str:
    assert stack.notifications_topic is not None
    return stack.notifications_topic


def mails_with_id(stack: StackInfo, wanted: str) -> list[EmailMessage]:
    found = []
    for path in sorted(stack.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Message-ID"]).strip() == wanted:
            found.append(message)
    return found


def log_lines(stack: StackInfo, **match: str) -> list[dict[str, Any]]:
    lines = []
    for raw in stack.log_file("send-email").read_text(errors="replace").splitlines():
        if not raw.startswith("{"):
            continue
        line = json.loads(raw)
        if all(line.get(key) == value for key, value in match.items()):
            lines.append(line)
    return lines


# --- through the emulator and the stack's function ----------------------------------------


def test_the_stack_subscription_retries_with_backoff_and_dead_letters(
    stack: StackInfo, pubsub: PubSub
) -> None:
    topic = topic_of(stack)
    subscription = pubsub.subscription(f"{topic}-send-email")
    assert subscription["deadLetterPolicy"] == {
        "deadLetterTopic": f"projects/{stack.project_id}/topics/{topic}-dead-letter",
        "maxDeliveryAttempts": 5,
    }
    assert subscription["retryPolicy"] == {"minimumBackoff": "1s", "maximumBackoff": "10s"}
    assert subscription["pushConfig"]["pushEndpoint"].startswith(stack.function_url("send_email"))
    kept = pubsub.subscription(dead_letter_topic(topic))
    assert kept["topic"] == f"projects/{stack.project_id}/topics/{topic}-dead-letter"


def test_a_published_notification_is_an_eml_file_in_the_mail_folder_within_seconds(
    stack: StackInfo, pubsub: PubSub
) -> None:
    document = fresh()
    wanted = message_id(document["notification_id"], "example.com")
    began = time.monotonic()
    pubsub.publish(topic_of(stack), document)
    [mail] = wait_for(lambda: mails_with_id(stack, wanted) or None, 20, "the mail file")
    elapsed = time.monotonic() - began
    assert elapsed < 20
    assert str(mail["Subject"]) == "Receipt for your Acme Pro payment of $19.99"
    assert [a.addr_spec for a in mail["To"].addresses] == ["ada@example.com"]
    assert str(mail["From"]) == "Acme Cloud <billing@example.com>"
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None
    assert "$19.99" in str(plain.get_content())
    [line] = wait_for(
        lambda: (
            log_lines(stack, notification_id=document["notification_id"], message="sent") or None
        ),
        10,
        "the function's log line",
    )
    assert line["smtp_sends"] == 1
    assert line["firestore_round_trips"] == 2  # claim, mark


def test_the_same_notification_published_ten_times_makes_one_mail(
    stack: StackInfo, pubsub: PubSub
) -> None:
    document = fresh("payment_failed-retrying")
    nid = document["notification_id"]
    pubsub.publish(topic_of(stack), *([document] * 10))

    def settled() -> list[dict[str, Any]] | None:
        # Every delivery ends acknowledged: one sent, nine found it sent (some after a retry,
        # when they arrived while it was being sent).
        done = [line for line in log_lines(stack, notification_id=nid) if "outcome" in line]
        return done if len(done) >= 10 else None

    done = wait_for(settled, 60, "all ten deliveries to be acknowledged")
    assert sorted(line["outcome"] for line in done) == ["already_sent"] * 9 + ["sent"]
    assert len(mails_with_id(stack, message_id(nid, "example.com"))) == 1


def test_malformed_messages_are_acknowledged_with_one_error_line_each(
    stack: StackInfo, pubsub: PubSub
) -> None:
    no_email = fresh() | {"email": None}
    unknown = fresh() | {"type": "refund_issued"}
    ids = pubsub.publish(topic_of(stack), b"not json", b"\xff\xfe", unknown, no_email)
    reasons = ["not_json", "not_utf8", "unknown_type", "no_email"]

    def errors() -> dict[str, list[dict[str, Any]]] | None:
        found = {i: log_lines(stack, pubsub_message_id=i, severity="ERROR") for i in ids}
        return found if all(found.values()) else None

    wait_for(errors, 20, "an ERROR line for each malformed message")
    time.sleep(4)  # a redelivery (1 s backoff, then 2 s) would log its line again by now
    found = errors()
    assert found is not None
    for message_id_, reason in zip(ids, reasons, strict=True):
        [line] = found[message_id_]
        assert line["reason"] == reason
        assert line["message"].startswith("notification not sent and not retried: ")


# --- extra instances of the function, with their own relay --------------------------------


def _own_topic(pubsub: PubSub, url: str, name: str) -> str:
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    push_subscription(pubsub.host, pubsub.project, topic, f"{topic}-push", url)
    return topic


def test_a_relay_refusing_the_first_attempts_gets_exactly_one_mail_once_it_recovers(
    running_stack: Stack, stack: StackInfo, pubsub: PubSub
) -> None:
    document = fresh("payment_action_required")
    with (
        mail_server(refuse_first=2) as relay,
        extra_function(
            running_stack, "send_email", {"SMTP_HOST": relay.host, "SMTP_PORT": str(relay.port)}
        ) as url,
    ):
        topic = _own_topic(pubsub, url, "mail-retry")
        pubsub.publish(topic, document)
        wait_for(lambda: relay.recorder.messages() or None, 30, "the mail after two refusals")
        time.sleep(3)  # room for a wrong second send
        [mail] = relay.recorder.messages()
        assert relay.recorder.attempts == 3
    assert str(mail["Message-ID"]).strip() == message_id(document["notification_id"], "example.com")
    assert "KWD12.340" in str(mail["Subject"])


def test_after_the_last_attempt_a_failing_message_is_on_the_dead_letter_topic(
    running_stack: Stack, stack: StackInfo, pubsub: PubSub
) -> None:
    document = fresh("trial_will_end")
    nothing_listens = str(procs.free_port())
    with extra_function(
        running_stack, "send_email", {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": nothing_listens}
    ) as url:
        topic = _own_topic(pubsub, url, "mail-dlq")
        pubsub.publish(topic, document)
        [dead] = wait_for(
            lambda: pubsub.pull(dead_letter_topic(topic)) or None, 90, "the dead letter"
        )
    message = dead["message"]
    assert json.loads(base64.b64decode(message["data"])) == document
    assert message["attributes"]["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert message["attributes"]["notification_id"] == document["notification_id"]


# --- the once-only rules against the real Firestore emulator ------------------------------


@pytest.fixture
def relay() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


def mailer_for(db: firestore.Client, relay: MailServer, **settings: Any) -> Mailer:
    config = mail_settings(smtp_port=relay.port, **settings)
    claims = FirestoreClaims(db, lease=timedelta(seconds=120), keep=timedelta(days=30), timeout=10)
    return Mailer(Composer(Brand.from_settings(config)), claims, SmtpSender(config))


def event_data(document: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(document).encode()).decode()
    return {"message": {"data": data, "attributes": {}, "messageId": uuid.uuid4().hex}}


def deliver_concurrently(mailer: Mailer, document: dict[str, Any], n: int) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = mailer.handle(event_data(document))
        except Redeliver as error:
            results[index] = error.status

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_ten_concurrent_deliveries_of_one_notification_send_one_mail(
    db: firestore.Client, relay: MailServer
) -> None:
    mailer = mailer_for(db, relay)
    document = fresh()
    results = deliver_concurrently(mailer, document, 10)
    assert results.count(Outcome.SENT) == 1
    # The others were told "being sent" (409: redelivered later) or, later, "already sent".
    assert set(results) - {Outcome.SENT} <= {409, Outcome.ALREADY_SENT}
    assert len(relay.recorder.messages()) == 1
    # Pub/Sub redelivers the ones that were not acknowledged: now all find it sent.
    for _ in range(results.count(409)):
        assert mailer.handle(event_data(document)) is Outcome.ALREADY_SENT
    assert len(relay.recorder.messages()) == 1
    doc = db.collection(COLLECTION).document(document["notification_id"]).get().to_dict()
    assert doc is not None
    assert doc["status"] == SENT
    assert doc["message_id"] == relay.recorder.messages()[0]["Message-ID"]


def test_deliveries_racing_for_a_lapsed_claim_send_one_mail(
    db: firestore.Client, relay: MailServer
) -> None:
    document = fresh()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    db.collection(COLLECTION).document(document["notification_id"]).set(
        {"status": SENDING, "lease_until": long_ago, "attempts": 1}
    )
    results = deliver_concurrently(mailer_for(db, relay), document, 10)
    assert results.count(Outcome.SENT) == 1
    assert len(relay.recorder.messages()) == 1
    doc = db.collection(COLLECTION).document(document["notification_id"]).get().to_dict()
    assert doc is not None
    assert doc["attempts"] == 2


def test_the_ledger_rules_on_firestore(db: firestore.Client) -> None:
    claims = FirestoreClaims(db, lease=timedelta(seconds=60), keep=timedelta(days=30), timeout=10)
    nid = fresh()["notification_id"]
    now = datetime.now(UTC)

    first = claims.claim(nid, now, {"type": "payment_succeeded"})
    assert first.state is State.OWNED
    doc = db.collection(COLLECTION).document(nid).get().to_dict()
    assert doc is not None
    assert doc["expire_at"] == now + timedelta(days=30)  # for the TTL policy
    assert claims.claim(nid, now + timedelta(seconds=59), {}).state is State.IN_FLIGHT

    claims.release(first, now, "SMTPDataError: 451")  # the send failed: retry at once
    second = claims.claim(nid, now + timedelta(seconds=1), {})
    assert second.state is State.OWNED
    claims.release(first, now, "stale")  # the first delivery's release no longer counts
    assert claims.claim(nid, now + timedelta(seconds=2), {}).state is State.IN_FLIGHT

    claims.mark_sent(second, now + timedelta(seconds=3))
    later = now + timedelta(days=1)
    assert claims.claim(nid, later, {}).state is State.SENT
    doc = db.collection(COLLECTION).document(nid).get().to_dict()
    assert doc is not None
    assert (doc["status"], doc["attempts"]) == (SENT, 2)


def test_firestore_unreachable_means_no_mail_and_a_retry(
    relay: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{procs.free_port()}")
    unreachable = firestore.Client(project="demo-billing", credentials=AnonymousCredentials())
    config = mail_settings(smtp_port=relay.port)
    claims = FirestoreClaims(
        unreachable, lease=timedelta(seconds=120), keep=timedelta(days=30), timeout=1
    )
    mailer = Mailer(Composer(Brand.from_settings(config)), claims, SmtpSender(config))
    with pytest.raises(Redeliver) as raised:
        mailer.handle(event_data(fresh()))
    assert raised.value.status == 503
    assert relay.recorder.messages() == []
