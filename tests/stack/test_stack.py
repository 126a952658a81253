"""The whole local stack, started through the library API with a small fixture main.py."""

from __future__ import annotations

import base64
import json
import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from devstack.stack import STANDIN_SECRET_KEY, Stack, StackError, StackInfo
from tests.support.stack import (
    APP,
    APP_FUNCTIONS,
    BROKEN_APP,
    BROKEN_FUNCTIONS,
    FAKE_STANDIN,
    survivors,
    wait_for,
)

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, stack: Stack, info: StackInfo, events: Path) -> None:
        self.stack, self.info, self.events = stack, info, events


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("stack")
    env_dir, events = root / "env", root / "events"
    env_dir.mkdir()
    events.mkdir()
    (env_dir / ".env.example").write_text(
        "FIXTURE_FROM_ENV_EXAMPLE=example\nFIXTURE_FROM_DOTENV=example\n"
        "NOTIFICATIONS_TOPIC=from-example\nLOG_LEVEL=WARNING\n"
    )
    (env_dir / ".env").write_text("FIXTURE_FROM_DOTENV=dotenv\n")
    stack = Stack(
        state_dir=root / "state",
        env_dir=env_dir,
        functions_source=APP,
        functions=APP_FUNCTIONS,
        standin_module=FAKE_STANDIN,
        log_level="DEBUG",
        env_overrides={
            "FIXTURE_EVENTS_DIR": str(events),
            "FIXTURE_FROM_OVERRIDES": "override",
            "NOTIFICATIONS_TOPIC": "test-notifications",
        },
    )
    with stack as info:
        yield Running(stack, info, events)


def _echoed_env(info: StackInfo) -> dict[str, Any]:
    response = requests.post(info.function_url("stripe_webhook"), timeout=10)
    response.raise_for_status()
    echoed: dict[str, Any] = response.json()
    return echoed


def test_an_http_function_answers_at_its_url(running: Running) -> None:
    response = requests.post(running.info.function_url("ping"), json={}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_functions_are_keyed_by_deployed_name(running: Running) -> None:
    assert set(running.info.functions) == {"ping", "stripe-webhook", "email"}
    assert running.info.event_functions == ["email"]
    assert running.info.function_url("stripe_webhook") == running.info.functions["stripe-webhook"]
    with pytest.raises(KeyError, match="no function 'nope'"):
        running.info.function_url("nope")


def test_functions_get_the_run_environment(running: Running) -> None:
    info = running.info
    env = _echoed_env(info)
    assert env["FUNCTION_TARGET"] == "stripe_webhook"
    assert env["GOOGLE_CLOUD_PROJECT"] == info.project_id == "demo-billing"
    assert env["FIRESTORE_EMULATOR_HOST"] == info.firestore_emulator_host
    assert env["PUBSUB_EMULATOR_HOST"] == info.pubsub_emulator_host
    assert env["FIREBASE_AUTH_EMULATOR_HOST"] == info.auth_emulator_host
    assert env["STRIPE_API_BASE"] == info.stripe.api_base
    assert env["STRIPE_WEBHOOK_SECRETS"] == info.stripe.webhook_secret
    assert str(info.stripe.webhook_secret).startswith("whsec_")
    assert (env["SMTP_HOST"], env["SMTP_PORT"]) == (info.smtp.host, str(info.smtp.port))
    # .env.example < .env < the run's own values < the caller's overrides
    assert env["FIXTURE_FROM_ENV_EXAMPLE"] == "example"
    assert env["FIXTURE_FROM_DOTENV"] == "dotenv"
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["FIXTURE_FROM_OVERRIDES"] == "override"
    assert env["NOTIFICATIONS_TOPIC"] == info.notifications_topic == "test-notifications"


def test_the_standin_posts_webhooks_to_the_webhook_function(running: Running) -> None:
    info = running.info
    assert info.stripe.mode == "standin"
    config = requests.get(f"{info.stripe.control_url}/_standin/config", timeout=10).json()
    assert config == {
        "webhook_url": info.function_url("stripe_webhook"),
        "webhook_secret": info.stripe.webhook_secret,
    }


def test_the_firestore_emulator_stores_documents(running: Running) -> None:
    base = f"http://{running.info.firestore_emulator_host}"
    assert requests.get(base, timeout=10).text.strip() == "Ok"
    documents = f"{base}/v1/projects/{running.info.project_id}/databases/(default)/documents"
    admin = {"Authorization": "Bearer owner"}  # the emulator's admin token: rules do not apply
    created = requests.post(
        f"{documents}/probes?documentId=one",
        json={"fields": {"n": {"integerValue": "1"}}},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 200, created.text
    refused = requests.get(f"{documents}/probes/one", timeout=10)
    assert refused.status_code == 403, "firestore.rules refuse clients everything but entitlements"
    read = requests.get(f"{documents}/probes/one", headers=admin, timeout=10).json()
    assert read["fields"] == {"n": {"integerValue": "1"}}


def test_a_published_notification_is_pushed_to_the_event_function(running: Running) -> None:
    info = running.info
    topic = f"http://{info.pubsub_emulator_host}/v1/projects/{info.project_id}/topics/test-notifications"
    assert requests.get(topic, timeout=10).status_code == 200
    payload = base64.b64encode(b'{"kind": "invoice_paid"}').decode()
    published = requests.post(
        f"{topic}:publish",
        json={"messages": [{"data": payload, "attributes": {"notification_id": "n1"}}]},
        timeout=10,
    )
    assert published.status_code == 200, published.text

    received = wait_for(lambda: next(running.events.glob("event-*.json"), None), 30, "the push")
    event = json.loads(received.read_text())
    assert event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert event["source"].endswith(f"/projects/{info.project_id}/topics/test-notifications")
    assert event["data"]["message"]["data"] == payload
    assert event["data"]["message"]["attributes"] == {"notification_id": "n1"}


def test_the_event_functions_subscription_retries_and_dead_letters(running: Running) -> None:
    info = running.info
    api = f"http://{info.pubsub_emulator_host}/v1/projects/{info.project_id}"
    subscription = requests.get(f"{api}/subscriptions/test-notifications-email", timeout=10)
    assert subscription.json()["deadLetterPolicy"] == {
        "deadLetterTopic": f"projects/{info.project_id}/topics/test-notifications-dead-letter",
        "maxDeliveryAttempts": 5,
    }
    assert "retryPolicy" in subscription.json()
    kept = requests.get(f"{api}/subscriptions/test-notifications-dead-letter", timeout=10)
    assert kept.status_code == 200


def test_mail_sent_to_the_sink_lands_in_the_mail_dir(running: Running) -> None:
    info = running.info
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
    message.set_content("hello")
    with smtplib.SMTP(info.smtp.host, info.smtp.port) as client:
        client.send_message(message)
    [stored] = wait_for(lambda: list(info.mail_dir.glob("*.eml")) or None, 10, "the mail file")
    assert b"Subject: hi" in stored.read_bytes()


def test_stack_json_describes_the_running_stack(running: Running) -> None:
    info = running.info
    written = json.loads(running.stack.stack_file.read_text())
    assert written == info.to_json()
    assert StackInfo.load(running.stack.stack_file) == info
    assert written["stripe"]["mode"] == "standin"
    expected = {
        "firestore",
        "pubsub",
        "smtp-sink",
        "stripe-standin",
        "auth",
        "ping",
        "stripe-webhook",
        "email",
    }
    assert written["auth_emulator_host"] == info.auth_emulator_host
    assert requests.get(f"http://{info.auth_emulator_host}/", timeout=10).json()["authEmulator"]
    assert set(written["pids"]) == expected
    assert set(survivors(info.pids)) == expected, "every process is running"
    assert {p.stem for p in info.logs_dir.glob("*.log")} == expected
    assert info.startup_seconds["total"] >= max(
        v for k, v in info.startup_seconds.items() if k != "total"
    )


def test_stop_leaves_no_process_behind(running: Running) -> None:
    pids = running.info.pids
    running.stack.stop()

    assert survivors(pids) == {}
    assert not running.stack.stack_file.exists()
    assert not (running.stack.state_dir / "processes.json").exists()
    assert running.info.log_file("ping").is_file(), "logs are kept for reading after the run"


def test_a_function_failing_at_start_up_stops_everything_started(tmp_path: Path) -> None:
    stack = Stack(
        state_dir=tmp_path,
        functions_source=BROKEN_APP,
        functions=BROKEN_FUNCTIONS,
        standin_module=FAKE_STANDIN,
    )

    with pytest.raises(StackError) as raised:
        stack.start()

    message = str(raised.value)
    assert "function broken exited with code" in message
    assert "RuntimeError: BROKEN_APP_SETTING is not set" in message
    assert str(tmp_path / "logs" / "broken.log") in message
    assert {"firestore", "pubsub", "broken"} <= set(stack.started_pids)
    assert survivors(stack.started_pids) == {}
    assert not (tmp_path / "processes.json").exists()


def test_the_real_standin_delivers_signed_webhooks_to_the_webhook_function(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    events.mkdir()
    stack = Stack(
        state_dir=tmp_path / "state",
        functions_source=APP,
        functions=APP_FUNCTIONS,
        env_overrides={"FIXTURE_EVENTS_DIR": str(events)},
    )
    with stack as info:
        api_base, secret = info.stripe.api_base, info.stripe.webhook_secret
        assert api_base is not None
        assert secret is not None
        assert _echoed_env(info)["STRIPE_API_BASE"] == api_base
        config = requests.get(f"{api_base}/_standin/config", timeout=10).json()
        assert config["webhook_url"] == info.function_url("stripe_webhook")
        assert config["webhook_secret"] == secret

        created = requests.post(
            f"{api_base}/v1/customers",
            data={"email": "ada@example.com"},
            headers={"Authorization": f"Bearer {STANDIN_SECRET_KEY}"},
            timeout=10,
        )
        assert created.status_code == 200, created.text
        delivered = wait_for(lambda: next(events.glob("webhook-*.json"), None), 30, "a webhook")
        delivery = json.loads(delivered.read_text())
        event = stripe.Webhook.construct_event(delivery["payload"], delivery["signature"], secret)
        assert event.type == "customer.created"
        assert event.data.object["id"] == created.json()["id"]
    assert survivors(info.pids) == {}


def test_a_taken_base_port_range_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        stack = Stack(
            state_dir=tmp_path, functions_source=APP, functions=APP_FUNCTIONS, base_port=port - 1
        )

        # Neighbouring ports may be busy too (other stacks on this machine): only ours must show.
        with pytest.raises(
            StackError, match=rf"ports in use on 127\.0\.0\.1: .*\b{port} \(pubsub\)"
        ):
            stack.start()

    assert stack.started_pids == {}


@pytest.mark.integration
def test_overriding_an_emulator_host_changes_what_functions_are_told_not_where_it_listens(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events"
    events.mkdir()
    with Stack(
        state_dir=tmp_path / "state",
        functions_source=APP,
        functions=APP_FUNCTIONS,
        standin_module=FAKE_STANDIN,
        env_overrides={"FIXTURE_EVENTS_DIR": str(events), "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1"},
    ) as info:
        assert info.firestore_emulator_host != "127.0.0.1:1"
        assert requests.get(f"http://{info.firestore_emulator_host}/", timeout=5).ok
        assert _echoed_env(info)["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:1"


@pytest.mark.parametrize("attempts", [4, 101])
def test_delivery_attempts_outside_pubsubs_limits_are_refused(
    tmp_path: Path, attempts: int
) -> None:
    with pytest.raises(StackError, match="max_delivery_attempts must be 5 to 100"):
        Stack(state_dir=tmp_path, max_delivery_attempts=attempts)
