"""Request bodies are read within a size and a time limit, and never read after the answer."""

from __future__ import annotations

import io

import flask
import pytest

from billing.errors import BadRequest, PayloadTooLarge
from billing.http.body import abandon_unread, read_body

LIMIT = 64


def _request(body: bytes, **environ: object) -> flask.Request:
    """A request as a WSGI server hands it over: ``wsgi.input`` holds the bytes sent."""
    base: dict[str, object] = {
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
    }
    return flask.Request(base | environ)


def test_a_body_within_the_limit_is_read_whole() -> None:
    request = _request(b'{"a": 1}')
    assert read_body(request, LIMIT, timeout=5) == b'{"a": 1}'
    abandon_unread(request)  # read to the end: nothing to give up
    assert request.get_data() == b""


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    source = io.BytesIO(b"x" * 1000)
    request = _request(b"", **{"wsgi.input": source, "CONTENT_LENGTH": "1000"})
    with pytest.raises(PayloadTooLarge):
        read_body(request, LIMIT, timeout=5)
    abandon_unread(request)
    # What functions-framework does after every response: it must find nothing left to read.
    assert request.get_data() == b""
    assert source.tell() == 0


def test_a_body_shorter_than_its_content_length_is_400() -> None:
    request = _request(b'{"a"', CONTENT_LENGTH="40")
    with pytest.raises(BadRequest) as caught:
        read_body(request, LIMIT, timeout=5)
    assert caught.value.code == "incomplete_body"


def test_a_chunked_body_over_the_limit_is_413() -> None:
    # No Content-Length: the server de-chunks and ends the stream (wsgi.input_terminated).
    request = _request(
        b"x" * 1000,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input_terminated": True},
    )
    with pytest.raises(PayloadTooLarge):
        read_body(request, LIMIT, timeout=5)


def test_an_unread_body_is_abandoned_whatever_the_answer() -> None:
    source = io.BytesIO(b'{"a": 1}')
    request = _request(b"", **{"wsgi.input": source, "CONTENT_LENGTH": "8"})
    abandon_unread(request)  # say a 405, answered before anyone read the body
    assert request.get_data() == b""
    assert source.tell() == 0
