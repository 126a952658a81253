"""An in-memory Firestore where a write's answer can be lost, and a clock that never sleeps.

For the rules that must survive a lost answer (``core.leased_claims``, the webhook's inbox,
the checkout lock): each needs Firestore's semantics for the few calls it makes, and a way to
store a write and then fail its answer, which the emulator cannot do on demand.

- ``create`` refuses an existing document (AlreadyExists); ``update`` refuses a missing one
  (NotFound) and, given a ``last_update_time`` precondition, one updated since
  (FailedPrecondition); every write gets a new update time; a batch's create refused refuses
  the whole commit.
- ``db.before[op]`` runs once before the named operation (``create``, ``get``, ``update`` or
  ``commit``): to interleave another request, or to fail the call unwritten.
  ``db.after[op]`` runs once after a write is stored: a failure raised there is a write stored
  whose answer was lost. Raising what the client's retry, sending the write again, is answered
  (AlreadyExists for a create or a commit, FailedPrecondition for a conditional update) is a
  lost answer the retry covered; raising a deadline is one that reached the caller.
- ``db.calls`` keeps each operation in order; ``db.kwargs`` each with its keyword arguments.

The same rules against the real emulator are in tests/integration (named by each test file).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore


@dataclass(frozen=True)
class WriteResult:
    update_time: int


@dataclass(frozen=True)
class Snapshot:
    exists: bool
    data: dict[str, Any] | None
    update_time: int | None

    def to_dict(self) -> dict[str, Any] | None:
        return None if self.data is None else dict(self.data)


@dataclass(frozen=True)
class LastUpdate:
    last_update_time: Any


class FakeDb:
    """Documents: path -> (fields, update time)."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}
        self._times = itertools.count(1)
        self.before: dict[str, Callable[[], None]] = {}
        self.after: dict[str, Callable[[], None]] = {}
        self.calls: list[str] = []
        self.kwargs: list[tuple[str, dict[str, Any]]] = []

    def collection(self, name: str) -> FakeCollection:
        return FakeCollection(self, name)

    def batch(self) -> FakeBatch:
        return FakeBatch(self)

    @staticmethod
    def write_option(*, last_update_time: Any) -> LastUpdate:
        return LastUpdate(last_update_time)

    def hook(self, operation: str, when: str = "before", **kwargs: Any) -> None:
        if when == "before":
            self.calls.append(operation)
            self.kwargs.append((operation, kwargs))
        hook = (self.before if when == "before" else self.after).pop(operation, None)
        if hook is not None:
            hook()

    def fields(self, path: str) -> dict[str, Any]:
        return self.docs[path][0]

    def version(self, path: str) -> int:
        return self.docs[path][1]

    def store(self, path: str, data: dict[str, Any]) -> int:
        """Writes ``data`` as the whole document (no hook): another request's write."""
        version = next(self._times)
        self.docs[path] = (data, version)
        return version


class FakeCollection:
    def __init__(self, db: FakeDb, name: str) -> None:
        self._db, self._name = db, name

    def document(self, key: str) -> FakeRef:
        return FakeRef(self._db, f"{self._name}/{key}")


class FakeRef:
    def __init__(self, db: FakeDb, path: str) -> None:
        self._db, self.path = db, path
        self.id = path.rsplit("/", 1)[1]

    def get(self, *, timeout: float, retry: Any) -> Snapshot:
        self._db.hook("get", timeout=timeout, retry=retry)
        if self.path not in self._db.docs:
            return Snapshot(False, None, None)
        data, version = self._db.docs[self.path]
        return Snapshot(True, dict(data), version)

    def create(self, data: dict[str, Any], *, timeout: float, retry: Any) -> WriteResult:
        self._db.hook("create", timeout=timeout, retry=retry)
        if self.path in self._db.docs:
            raise AlreadyExists(self.path)
        return self._write("create", dict(data))

    def update(
        self,
        changes: dict[str, Any],
        *,
        option: LastUpdate | None = None,
        timeout: float,
        retry: Any,
    ) -> WriteResult:
        self._db.hook("update", timeout=timeout, retry=retry)
        if self.path not in self._db.docs:
            raise NotFound(self.path)
        data, version = self._db.docs[self.path]
        if option is not None and option.last_update_time != version:
            raise FailedPrecondition(f"{self.path} was updated since {option.last_update_time}")
        data = dict(data)
        for field, value in changes.items():
            if isinstance(value, firestore.Increment):
                data[field] = data.get(field, 0) + value.value
            else:
                data[field] = value
        return self._write("update", data)

    def _write(self, operation: str, data: dict[str, Any]) -> WriteResult:
        written = WriteResult(self._db.store(self.path, data))
        self._db.hook(operation, "after")
        return written


class FakeBatch:
    def __init__(self, db: FakeDb) -> None:
        self._db = db
        self._writes: list[tuple[str, FakeRef, dict[str, Any]]] = []

    def create(self, ref: FakeRef, data: dict[str, Any]) -> None:
        self._writes.append(("create", ref, dict(data)))

    def set(self, ref: FakeRef, data: dict[str, Any], *, merge: bool) -> None:
        assert merge
        self._writes.append(("set", ref, dict(data)))

    def commit(self, *, timeout: float, retry: Any) -> list[WriteResult]:
        self._db.hook("commit", timeout=timeout, retry=retry)
        for kind, ref, _ in self._writes:
            if kind == "create" and ref.path in self._db.docs:
                raise AlreadyExists(ref.path)  # the whole commit is refused
        version = next(self._db._times)
        for kind, ref, data in self._writes:
            before = self._db.docs.get(ref.path, ({}, 0))[0] if kind == "set" else {}
            self._db.docs[ref.path] = (before | data, version)
        self._db.hook("commit", "after")
        return [WriteResult(version) for _ in self._writes]


class Clock:
    """A module's ``time``: sleeping moves it on, and every sleep is kept (so "no wait" is an
    empty list, and a wait costs the test nothing)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fails(error: Exception) -> Callable[[], None]:
    """A hook that raises ``error``."""

    def hook() -> None:
        raise error

    return hook


def clock_in(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> Clock:
    """A Clock as ``module``'s ``time``, and the fake's own ``get`` as its ``get_document``
    (which reads through the real client's internals)."""
    clock = Clock()
    monkeypatch.setattr(module, "time", clock)
    monkeypatch.setattr(module, "get_document", lambda ref, **kw: ref.get(**kw))
    return clock
