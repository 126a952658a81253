"""The stack's requests to the Pub/Sub emulator survive a slow first answer: a just-restarted
emulator on a loaded machine timed out a topic's PUT once and failed an outage test."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from devstack import stack
from devstack.stack import StackError


class _Answer:
    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_put_that_times_out_is_tried_again_until_it_is_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def urlopen(request: urllib.request.Request, timeout: float) -> _Answer:
        calls.append(request.get_method())
        if len(calls) < 3:
            raise TimeoutError("timed out")
        return _Answer()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    stack._put_json("http://127.0.0.1:1/v1/projects/p/topics/t", {})
    assert calls == ["PUT", "PUT", "PUT"]


def test_a_put_never_answered_fails_naming_the_url_after_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def urlopen(request: urllib.request.Request, timeout: float) -> Any:
        raise urllib.error.URLError(ConnectionRefusedError("refused"))

    clock = iter(range(0, 1000, 30))
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(
        StackError, match=r"PUT http://127\.0\.0\.1:1/v1/projects/p/topics/t got no"
    ):
        stack._put_json("http://127.0.0.1:1/v1/projects/p/topics/t", {}, deadline_s=90)


def test_a_refusal_other_than_already_exists_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def urlopen(request: urllib.request.Request, timeout: float) -> Any:
        calls.append(1)
        raise urllib.error.HTTPError(request.full_url, 400, "bad", {}, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(StackError, match="failed: 400"):
        stack._put_json("http://127.0.0.1:1/v1/projects/p/topics/t", {})
    assert calls == [1]
