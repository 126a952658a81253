"""An SMTP server that delivers nothing: every message lands as a ``.eml`` file in a folder.

    python -m devstack.smtp_sink --host 127.0.0.1 --port 2525 --maildir .devstack/mail

Open the files with any mail client, or parse them with ``email.message_from_bytes``. Each file is
the message exactly as received, preceded by ``X-Envelope-From``/``X-Envelope-To`` headers (the
envelope recipients include Bcc addresses, which the message headers do not show). AUTH is
accepted with any credentials so code that logs in to a real relay works unchanged; there is no
TLS, so code must not insist on STARTTLS when talking to the sink.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

log = logging.getLogger("devstack.smtp_sink")


def _mail_file_name(received_at: datetime) -> str:
    # Sorts by arrival; the random suffix keeps two messages in the same microsecond apart.
    return f"{received_at:%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}.eml"


def store_message(maildir: Path, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
    """Write one message into ``maildir``; readers globbing ``*.eml`` never see half a file."""
    maildir.mkdir(parents=True, exist_ok=True)
    envelope = (
        f"X-Envelope-From: <{mail_from}>\r\nX-Envelope-To: {', '.join(rcpt_tos)}\r\n"
    ).encode()
    target = maildir / _mail_file_name(datetime.now(UTC))
    partial = target.with_suffix(".partial")
    partial.write_bytes(envelope + content)
    os.replace(partial, target)
    return target


class MaildirHandler:
    """aiosmtpd handler storing each accepted message with :func:`store_message`."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        path = store_message(
            self.maildir, str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], content
        )
        log.info("stored message from %s to %s as %s", envelope.mail_from, envelope.rcpt_tos, path)
        return "250 Message accepted for delivery"


def _accept_any_login(*_args: Any) -> AuthResult:
    return AuthResult(success=True)


def make_controller(maildir: Path, host: str, port: int) -> Controller:
    """A not yet started server; ``.start()`` returns once it accepts connections."""
    return Controller(
        MaildirHandler(maildir),
        hostname=host,
        port=port,
        enable_SMTPUTF8=True,
        authenticator=_accept_any_login,
        auth_require_tls=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP sink writing each message to a .eml file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, required=True, help="folder for the .eml files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller = make_controller(args.maildir, args.host, args.port)
    controller.start()
    log.info("SMTP sink on %s:%d writing to %s", args.host, args.port, args.maildir.resolve())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
