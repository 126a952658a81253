"""``python -m tools.mail_preview --out DIR``: every mail, rendered from sample data, to open.

For each sample in :mod:`tools.mail_samples`: ``NAME.html`` (open in a browser), ``NAME.txt`` (the
plain-text part) and ``NAME.eml`` (the whole mail, for a mail client); ``index.html`` links
them. Branding comes from the environment (PRODUCT_NAME, APP_URL, ...) where set, else from
sample values. Sends nothing and needs no emulator.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from mailer.compose import Brand, Composer, recipient
from mailer.config import MailSettings
from mailer.contract import parse
from tools.mail_samples import MARCH_1_2026, SAMPLES

SAMPLE_SETTINGS = {
    "google_cloud_project": "demo-billing",
    "smtp_host": "localhost",  # required of the email function; the preview sends nothing
    "mail_from": "billing@example.com",
    "mail_reply_to": "support@example.com",
    "product_name": "Acme Cloud",
    "app_url": "https://app.example.com",
    "billing_url": "https://app.example.com/settings/billing",
}


def preview_settings() -> MailSettings:
    given = {key: value for key, value in SAMPLE_SETTINGS.items() if key.upper() not in os.environ}
    return MailSettings.load(**given)  # the rest comes from the environment


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None, subtype
    return str(body.get_content())


def render_all(out: Path, settings: MailSettings) -> list[Path]:
    composer = Composer(Brand.from_settings(settings))
    now = datetime.fromtimestamp(MARCH_1_2026, UTC)
    out.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for name, sample in SAMPLES.items():
        notification = parse(json.dumps(sample).encode())
        message = composer.compose(notification, recipient(notification), now)
        for suffix, content in (
            ("html", part(message, "html")),
            ("txt", part(message, "plain")),
            ("eml", message.as_string()),
        ):
            path = out / f"{name}.{suffix}"
            path.write_text(content, encoding="utf-8")
            written.append(path)
        rows.append(
            f"<li><a href='{name}.html'>{html.escape(name)}</a> "
            f"(<a href='{name}.txt'>text</a>, <a href='{name}.eml'>.eml</a>): "
            f"{html.escape(str(message['Subject']))}</li>"
        )
    index = out / "index.html"
    index.write_text(
        "<!DOCTYPE html><meta charset='utf-8'><title>Mail preview</title>"
        f"<h1>Mail preview</h1><ul>{''.join(rows)}</ul>\n",
        encoding="utf-8",
    )
    return [index, *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mail_preview", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    args = parser.parse_args(argv)
    paths = render_all(args.out, preview_settings())
    sys.stdout.write(f"wrote {len(paths)} files; open {paths[0].resolve()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
