"""`python -m tools.mail_preview --out DIR` writes every sample mail as files a person can open."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from tools.mail_preview import main
from tools.mail_samples import SAMPLES


def test_the_preview_writes_every_mail_as_html_text_and_eml(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    for name in SAMPLES:
        assert f"href='{name}.html'" in index
        html = (tmp_path / f"{name}.html").read_text()
        assert html.startswith("<!DOCTYPE html>")
        assert (tmp_path / f"{name}.txt").read_text().strip()
        parsed = email.message_from_bytes(
            (tmp_path / f"{name}.eml").read_bytes(), policy=email.policy.default
        )
        assert parsed.get_content_type() == "multipart/alternative"
    assert "¥1,500" in (tmp_path / "payment_succeeded-jpy.txt").read_text()
    assert "KWD12.345" in (tmp_path / "payment_succeeded-kwd.html").read_text()
    assert "&lt;script&gt;" in (tmp_path / "payment_succeeded-hostile-name.html").read_text()
