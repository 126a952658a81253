"""The docs runner's own rules: what makes a tested block fail (tests/support/docs.py)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import docs

PAGE = """# A page

```sh tested
echo '{"customer_id":"cus_1","created":true}'
# => {"customer_id":"cus_...","created":true}
```

```sh not-run: deploys
gcloud deploy
```

```sh
echo unmarked
```
"""


def _page(tmp_path: Path, text: str = PAGE) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def _block(tmp_path: Path, code: str) -> docs.Block:
    [block] = docs.blocks(_page(tmp_path, f"```sh tested\n{code}\n```\n"))
    return block


def test_blocks_are_read_with_their_marks(tmp_path: Path) -> None:
    tested, not_run, unmarked = docs.blocks(_page(tmp_path))
    assert tested.tested
    assert tested.expectations() == ['{"customer_id":"cus_...","created":true}']
    assert (not_run.tested, not_run.not_run_reason) == (False, "deploys")
    assert (unmarked.tested, unmarked.not_run_reason) == (False, None)


def test_an_answer_that_matches_passes(tmp_path: Path) -> None:
    block = _block(tmp_path, 'call\n# => {"created":true,...}')
    assert docs.check_output(block, '{"created":true,"id":"x"}\n') == []


def test_a_missing_answer_fails(tmp_path: Path) -> None:
    block = _block(tmp_path, 'call\n# => {"status":"changed",...')
    assert docs.check_output(block, '{"status":"payment_failed"}\n') != []


def test_dots_match_within_one_line_only(tmp_path: Path) -> None:
    block = _block(tmp_path, "call\n# => first...second")
    assert docs.check_output(block, "first\nsecond\n") != []
    assert docs.check_output(block, "first and second\n") == []


def test_answers_are_checked_in_order(tmp_path: Path) -> None:
    block = _block(tmp_path, "a\n# => one\nb\n# => two")
    assert docs.check_output(block, "one\ntwo\n") == []
    assert docs.check_output(block, "two\none\n") != []


def test_an_error_nobody_announced_fails(tmp_path: Path) -> None:
    block = _block(tmp_path, "call")
    for output in (
        '{"error":{"code":"already_subscribed"}}',
        "Traceback (most recent call last):",
        "declined: card_declined (Your card was declined.)",
        "bash: jq: command not found",
    ):
        assert docs.check_output(block, output + "\n") != [], output


def test_an_announced_error_passes(tmp_path: Path) -> None:
    block = _block(tmp_path, 'call\n# => {"error":{"code":"already_subscribed",...}}')
    output = '{"error":{"code":"already_subscribed","message":"m"}}\n'
    assert docs.check_output(block, output) == []


def test_a_page_runs_in_one_shell_in_order(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        '```sh tested\nX=42\n```\n\n```sh tested\necho "x is $X"\n# => x is 42\n```\n',
    )
    tested = [block for block in docs.blocks(page) if block.tested]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    problems, transcript = docs.run_page(tested, tmp_path, env, timeout=30)
    assert problems == [], transcript


def test_a_failing_command_fails_its_page(tmp_path: Path) -> None:
    page = _page(tmp_path, "```sh tested\nno-such-command-here\n```\n")
    tested = [block for block in docs.blocks(page) if block.tested]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    problems, _ = docs.run_page(tested, tmp_path, env, timeout=30)
    assert problems != []
