"""The SMTP sink keeps every message it receives as a .eml file."""

from __future__ import annotations

import email
import email.policy
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from devstack import procs
from devstack.smtp_sink import make_controller
from devstack.stack import REPO_ROOT


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    maildir = tmp_path / "mail"
    port = procs.free_port()
    controller = make_controller(maildir, procs.LOCALHOST, port)
    controller.start()
    yield port, maildir
    controller.stop()


def _message(subject: str, to: str = "ada@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "billing@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Your invoice is ready: https://example.com/i/1\n")
    return message


def _read(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_sent_message_is_stored_as_an_eml_file(sink: tuple[int, Path]) -> None:
    port, maildir = sink
    with smtplib.SMTP(procs.LOCALHOST, port) as client:
        client.send_message(
            _message("Invoice paid"), to_addrs=["ada@example.com", "audit@example.com"]
        )

    [stored] = list(maildir.glob("*.eml"))
    message = _read(stored)
    assert message["Subject"] == "Invoice paid"
    assert message["To"] == "ada@example.com"
    # The envelope shows recipients the headers do not (Bcc).
    assert message["X-Envelope-To"] == "ada@example.com, audit@example.com"
    assert message["X-Envelope-From"] == "<billing@example.com>"
    body = message.get_body()
    assert body is not None
    assert "https://example.com/i/1" in body.get_content()
    assert list(maildir.iterdir()) == [stored], "no partial files are left behind"


def test_each_message_gets_its_own_file_in_arrival_order(sink: tuple[int, Path]) -> None:
    port, maildir = sink
    with smtplib.SMTP(procs.LOCALHOST, port) as client:
        for number in range(3):
            client.send_message(_message(f"message {number}"))

    stored = sorted(maildir.glob("*.eml"))
    assert [_read(path)["Subject"] for path in stored] == ["message 0", "message 1", "message 2"]


def test_login_with_any_credentials_is_accepted(sink: tuple[int, Path]) -> None:
    port, maildir = sink
    with smtplib.SMTP(procs.LOCALHOST, port) as client:
        client.login("apikey", "whatever")
        client.send_message(_message("after login"))

    assert len(list(maildir.glob("*.eml"))) == 1


def test_the_command_line_server_stores_mail_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = procs.free_port()
    maildir = tmp_path / "mail"
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devstack.smtp_sink", "--host", procs.LOCALHOST,
         "--port", str(port), "--maildir", str(maildir)],
        cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not procs.tcp_accepts(procs.LOCALHOST, port):
            assert server.poll() is None, "the sink exited during start-up"
            assert time.monotonic() < deadline, "the sink did not start listening"
            time.sleep(0.05)
        with smtplib.SMTP(procs.LOCALHOST, port) as client:
            client.send_message(_message("from the CLI"))
        assert [_read(p)["Subject"] for p in maildir.glob("*.eml")] == ["from the CLI"]
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
