"""The email function loads only what it uses: never the Stripe SDK, never firebase-admin."""

from __future__ import annotations

import json
import textwrap

from devstack.stack import REPO_ROOT, read_env_file
from tests.support import fresh_interpreter

# A fresh interpreter, as a cold instance: main.py with FUNCTION_TARGET=send_email (which
# imports and builds the handler), then one message through the entry point, which builds
# the mailer (Firestore client, templates, SMTP client) and acknowledges the message.
PROGRAM = textwrap.dedent(
    """
    import base64, json, sys
    from cloudevents.http import CloudEvent
    import main
    event = CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished",
         "source": "//pubsub.googleapis.com/projects/demo-billing/topics/billing-notifications"},
        {"message": {"data": base64.b64encode(b"not json").decode(), "messageId": "1"}},
    )
    main.send_email(event)
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps({"loaded": loaded, "firestore": "google.cloud.firestore" in sys.modules}))
    """
)


def test_the_email_function_never_imports_stripe_or_firebase_admin() -> None:
    lines = fresh_interpreter.run(
        PROGRAM,
        env={
            **read_env_file(REPO_ROOT / ".env.example"),
            "FUNCTION_TARGET": "send_email",
            # Nothing listens there; the message is acknowledged before any Firestore call.
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
        },
    )
    report = json.loads(lines[-1])
    assert "stripe" not in report["loaded"]
    assert "firebase_admin" not in report["loaded"]
    assert "billing" not in report["loaded"]  # the mailer stands on core only
    assert report["firestore"]  # the mailer was really built, Firestore client included
    errors = [json.loads(line) for line in lines[:-1] if '"ERROR"' in line]
    assert [error["reason"] for error in errors] == ["not_json"]
