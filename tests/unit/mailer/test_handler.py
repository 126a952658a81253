"""The email function's decisions: send once, acknowledge what can never be sent, retry the rest.

The ledger and the relay are in-memory stand-ins here (tests/support/fakes.py); the same rules
against the real Firestore emulator and a real SMTP server are in tests/integration/test_email.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core.exceptions import ServiceUnavailable

from core import logs
from core.pubsub_push import Redeliver
from mailer.compose import Brand, Composer
from mailer.handler import Mailer, Outcome
from mailer.once import FAILED, SENT
from tests.conftest import mail_settings
from tests.support.fakes import InMemoryClaims, RecordingSender
from tools.mail_samples import SAMPLES

SAMPLE = SAMPLES["payment_succeeded-usd"]
NID = SAMPLE["notification_id"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def event_data(
    document: Any = SAMPLE,
    *,
    attributes: dict[str, str] | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """A messagePublished event's data, as functions-framework hands it to the function."""
    if data is None:
        data = base64.b64encode(json.dumps(document).encode()).decode()
    if attributes is None and isinstance(document, dict):
        attributes = {
            "type": str(document.get("type")),
            "version": str(document.get("version")),
            "notification_id": str(document.get("notification_id")),
        }
    return {
        "message": {"data": data, "attributes": attributes or {}, "messageId": "4242"},
        "subscription": "projects/demo-billing/subscriptions/billing-notifications-send-email",
    }


class Rig:
    def __init__(self, fail_first_sends: int = 0) -> None:
        self.claims = InMemoryClaims(lease=timedelta(seconds=120))
        self.sender = RecordingSender(fail_first=fail_first_sends)
        self.clock = Clock()
        composer = Composer(Brand.from_settings(mail_settings()))
        self.mailer = Mailer(composer, self.claims, self.sender, clock=self.clock)

    def handle(self, data: Any = None) -> Outcome:
        return self.mailer.handle(event_data() if data is None else data)


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    logs.configure()

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


def test_a_notification_is_mailed_once_and_recorded_as_sent(rig: Rig) -> None:
    assert rig.handle() is Outcome.SENT
    [(message, sender, to)] = rig.sender.sent
    assert (sender, to) == ("billing@example.com", "ada@example.com")
    assert "$19.99" in str(message["Subject"])
    assert rig.claims.docs[NID]["status"] == SENT
    assert rig.claims.docs[NID]["message_id"] == message["Message-ID"]


def test_the_same_notification_delivered_again_is_acknowledged_without_a_second_mail(
    rig: Rig,
) -> None:
    assert rig.handle() is Outcome.SENT
    for _ in range(5):
        assert rig.handle() is Outcome.ALREADY_SENT
    assert len(rig.sender.sent) == 1


def test_a_notification_another_delivery_is_sending_is_neither_sent_nor_acknowledged(
    rig: Rig,
) -> None:
    rig.claims.claim(NID, rig.clock(), {})  # another instance is sending it now
    with pytest.raises(Redeliver) as raised:
        rig.handle()
    assert raised.value.status == 409
    assert rig.sender.sent == []


def test_a_claim_whose_sender_died_is_taken_over_once_its_lease_lapses(rig: Rig) -> None:
    rig.claims.claim(NID, rig.clock(), {})
    rig.clock.now += timedelta(seconds=119)
    with pytest.raises(Redeliver):
        rig.handle()
    rig.clock.now += timedelta(seconds=2)
    assert rig.handle() is Outcome.SENT
    assert len(rig.sender.sent) == 1
    assert rig.claims.docs[NID]["attempts"] == 2


def test_a_refused_send_is_retried_and_then_mailed_exactly_once() -> None:
    rig = Rig(fail_first_sends=2)
    for _ in range(2):
        with pytest.raises(Redeliver) as raised:
            rig.handle()
        assert raised.value.status == 503
        # Released at once: the redelivery need not wait for the lease.
        assert rig.claims.docs[NID]["status"] == FAILED
    assert rig.handle() is Outcome.SENT
    assert rig.handle() is Outcome.ALREADY_SENT
    assert len(rig.sender.sent) == 1
    assert rig.sender.calls == 3


def test_firestore_down_at_the_claim_means_no_mail_and_a_retry(rig: Rig) -> None:
    rig.claims.fail["claim"] = ServiceUnavailable("firestore down")
    with pytest.raises(Redeliver) as raised:
        rig.handle()
    assert raised.value.status == 503
    assert rig.sender.sent == []
    assert rig.handle() is Outcome.SENT


def test_a_send_that_fails_while_firestore_is_down_still_raises(rig: Rig) -> None:
    rig = Rig(fail_first_sends=1)
    rig.claims.fail["release"] = ServiceUnavailable("firestore down")
    with pytest.raises(Redeliver):
        rig.handle()
    assert rig.sender.sent == []


def test_a_mail_sent_but_not_recorded_is_acknowledged_so_this_delivery_never_resends(
    rig: Rig, log_lines: Any
) -> None:
    rig.claims.fail["mark_sent"] = ServiceUnavailable("firestore down")
    assert rig.handle() is Outcome.SENT_UNRECORDED
    assert len(rig.sender.sent) == 1
    errors = [line for line in log_lines() if line["severity"] == "ERROR"]
    assert [line["message"] for line in errors] == [
        "sent, but not recorded as sent: ServiceUnavailable"
    ]


def _document(**changes: Any) -> dict[str, Any]:
    return SAMPLE | changes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"nothing": "here"}, "not_pubsub"),
        (event_data(data="%%% not base64 %%%"), "not_base64"),
        (event_data(data=base64.b64encode(b"\xff\xfe").decode(), attributes={}), "not_utf8"),
        (event_data(data=base64.b64encode(b"{oops").decode(), attributes={}), "not_json"),
        (event_data(_document(version=2)), "unknown_version"),
        (event_data(SAMPLE, attributes={"version": "2"}), "unknown_version"),
        (event_data(_document(type="refund_issued")), "unknown_type"),
        (event_data(_document(invoice=None)), "schema"),
        (event_data(_document(amount=1)), "schema"),
        (event_data(_document(email=None)), "no_email"),
        (event_data(_document(email="ada@")), "bad_email"),
        (event_data(SAMPLE, attributes={"type": "payment_failed"}), "attribute_mismatch"),
    ],
)
def test_a_message_that_can_never_be_sent_is_acknowledged_with_one_error_line(
    rig: Rig, log_lines: Any, data: Any, reason: str
) -> None:
    assert rig.handle(data) is Outcome.UNSENDABLE
    assert rig.sender.sent == []
    assert rig.claims.docs == {}
    errors = [line for line in log_lines() if line["severity"] == "ERROR"]
    assert len(errors) == 1, errors
    assert errors[0]["reason"] == reason
    assert errors[0]["message"].startswith("notification not sent and not retried: ")
    assert "ada@example.com" not in json.dumps(errors)


def test_a_sent_mail_is_logged_once_with_its_ids_and_round_trips(rig: Rig, log_lines: Any) -> None:
    rig.handle()
    [line] = [line for line in log_lines() if line["message"] == "sent"]
    assert line["severity"] == "INFO"
    assert line["notification_id"] == NID
    assert line["pubsub_message_id"] == "4242"
    assert line["smtp_sends"] == 1
    assert "ada@example.com" not in json.dumps(line)
