"""One Pub/Sub push read and answered (core.pubsub_push, app.pubsub_push): the envelope's edge
cases, and what each outcome tells Pub/Sub. Shared by the email function and metering, whose
own tests (tests/unit/mailer/test_handler.py, tests/integration/test_metering.py) check that
each acknowledges, refuses or redelivers through it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app import registry
from app.pubsub_push import NotAcknowledged, answering
from core.pubsub_push import (
    PubSubMessage,
    Redeliver,
    Unprocessable,
    check_attributes,
    message_of,
)


def envelope(message: Any) -> dict[str, Any]:
    return {"message": message, "subscription": "projects/p/subscriptions/s"}


def test_a_push_envelope_gives_its_payload_id_and_attributes() -> None:
    data = base64.b64encode(b'{"a": 1}').decode()
    message = message_of(
        envelope({"data": data, "messageId": "42", "attributes": {"type": "x", "n": 3}})
    )
    assert message == PubSubMessage("42", b'{"a": 1}', {"type": "x", "n": "3"})


def test_the_snake_case_id_of_the_cloud_event_form_is_read_too() -> None:
    assert message_of(envelope({"data": "", "message_id": "7"})).message_id == "7"


@pytest.mark.parametrize(
    "message",
    [{"messageId": "1"}, {"data": None, "messageId": "1"}, {"data": "", "attributes": None}],
)
def test_a_message_without_data_is_an_empty_payload_not_a_failure(message: Any) -> None:
    read = message_of(envelope(message))
    assert read.data == b""
    assert dict(read.attributes) == {}


@pytest.mark.parametrize("attributes", [["a", "b"], "type=x", 5])
def test_attributes_that_are_not_an_object_are_ignored(attributes: Any) -> None:
    assert dict(message_of(envelope({"data": "", "attributes": attributes})).attributes) == {}


@pytest.mark.parametrize(
    "event_data", [None, "text", [], {}, {"message": None}, {"message": "x"}, {"data": "e30="}]
)
def test_an_event_without_a_pubsub_message_is_unprocessable(event_data: Any) -> None:
    with pytest.raises(Unprocessable) as raised:
        message_of(event_data)
    assert raised.value.reason == "not_pubsub"


@pytest.mark.parametrize("data", ["%%% not base64 %%%", "abc", 12, ["e30="], "e30=\n!"])
def test_data_that_is_not_base64_is_unprocessable(data: Any) -> None:
    with pytest.raises(Unprocessable) as raised:
        message_of(envelope({"data": data}))
    assert raised.value.reason == "not_base64"


def test_an_attribute_that_disagrees_with_the_data_is_unprocessable_and_absent_ones_pass() -> None:
    check_attributes({"id": "u1"}, {"id": "u1", "meter": "calls"})
    check_attributes({}, {"id": "u1"})
    with pytest.raises(Unprocessable) as raised:
        check_attributes({"id": "u1", "meter": "other"}, {"id": "u1", "meter": "calls"})
    assert raised.value.reason == "attribute_mismatch"
    assert "'meter'" in str(raised.value)


def test_redeliver_is_never_a_status_that_acknowledges() -> None:
    assert Redeliver("down").status == 503
    assert Redeliver("busy", status=409).status == 409
    for status in (200, 204, 302, 600):
        with pytest.raises(ValueError, match="acknowledge"):
            Redeliver("x", status=status)


def test_the_push_answer_is_the_status_of_redeliver_and_nothing_when_handled() -> None:
    calls: list[Any] = []

    def handler(event: Any) -> Any:
        calls.append(event)
        if event == "busy":
            raise Redeliver("busy", status=409)
        if event == "down":
            raise Redeliver("down")
        return "handled"

    push = answering(handler)
    assert push("ok") is None  # acknowledged: functions-framework answers 200
    for event, status in (("busy", 409), ("down", 503)):
        with pytest.raises(NotAcknowledged) as raised:
            push(event)
        assert raised.value.get_response().status_code == status
    assert calls == ["ok", "busy", "down"]


def test_any_other_exception_is_left_to_the_framework() -> None:
    def handler(event: Any) -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        answering(handler)(None)


@pytest.mark.parametrize("name", [fn.name for fn in registry.FUNCTIONS if fn.kind == "event"])
def test_every_event_function_is_answered_this_way(name: str) -> None:
    fn = registry.get(name)
    built = registry.build(fn)
    assert built.__wrapped__ is registry.load_target(fn)  # type: ignore[attr-defined]
