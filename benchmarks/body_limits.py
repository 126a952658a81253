"""What oversized and stalled request bodies cost a function instance, measured.

Starts a local stack (or uses a running one: ``--stack .devstack/stack.json``) and, against
``create-customer``'s gunicorn worker, prints:

- the worker's resident memory (VmRSS) before and after it is sent 64 MiB bodies and a
  100 MB one without a token (each refused 413 with a 16 KiB limit);
- how long a refused 64 MiB body takes to be answered, as a ratio of a small request's time;
- how long a legitimate call takes while 12 connections declaring ``Content-Length:
  999999999`` sit open with a two-byte body, as a ratio of the same call on an idle worker.

Linux only (reads ``/proc``). Run: ``.venv/bin/python -m benchmarks.body_limits``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import requests

from devstack.stack import Stack, StackInfo
from devstack.tokens import mint_token

REPO = Path(__file__).resolve().parents[1]
FUNCTION = "create-customer"
MIB = 1024 * 1024


def worker_pid(arbiter: int) -> int:
    """functions-framework runs gunicorn: the arbiter forks one worker that serves requests."""
    children = Path(f"/proc/{arbiter}/task/{arbiter}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker under pid {arbiter}, found {children}")
    return int(children[0])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    return parts.hostname, parts.port


def _head(size: int) -> bytes:
    return (
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()


def send_body(url: str, size: int) -> tuple[float, int, str]:
    """Sends ``size`` bytes as fast as the server takes them; (seconds to the answer, bytes
    the client got out before the server stopped reading, status line)."""
    began = time.monotonic()
    sent = 0
    with socket.create_connection(_address(url), timeout=120) as sock:
        sock.sendall(_head(size))
        chunk = b" " * (1024 * 1024)
        with suppress(OSError):  # a server that stops reading closes the connection
            while sent < size:
                sent += sock.send(chunk[: min(len(chunk), size - sent)])
        status = ""
        with suppress(OSError):
            status = sock.recv(200).split(b"\r\n", 1)[0].decode("latin-1")
    return time.monotonic() - began, sent, status


def timed_call(url: str, token: str) -> float:
    began = time.monotonic()
    response = requests.post(
        url, json={"name": "Bench"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    response.raise_for_status()
    return time.monotonic() - began


def median_call(url: str, token: str, runs: int = 7) -> float:
    return statistics.median(timed_call(url, token) for _ in range(runs))


def stalled_connections(url: str, count: int, stack: ExitStack) -> None:
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(_address(url), timeout=30))
        sock.sendall(_head(999_999_999) + b"{}")


@contextmanager
def running_stack(stack_file: Path | None) -> Iterator[StackInfo]:
    if stack_file is not None:
        yield StackInfo.load(stack_file)
        return
    state = Path(tempfile.mkdtemp(prefix="bench-body-"))
    env_dir = state / "env"
    env_dir.mkdir()
    shutil.copy(REPO / ".env.example", env_dir / ".env.example")
    try:
        with Stack(state_dir=state, env_dir=env_dir) as info:
            yield info
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, help="stack.json of a running stack")
    parser.add_argument("--bodies", type=int, default=3, help="64 MiB bodies to send")
    args = parser.parse_args()
    with running_stack(args.stack) as info:
        url = info.function_url(FUNCTION)
        worker = worker_pid(info.pids[FUNCTION])
        token = mint_token(f"bench-{uuid.uuid4().hex[:8]}", "bench@example.com",
                           project_id=info.project_id)  # fmt: skip
        timed_call(url, token)  # creates the customer; later calls only read
        small = median_call(url, token)
        before = rss_mib(worker)
        print(f"worker pid {worker}: VmRSS {before:.0f} MiB at rest")  # noqa: T201
        seconds = []
        for size in [64 * MIB] * args.bodies + [100_000_000]:
            took, taken, status = send_body(url, size)
            seconds.append(took)
            print(  # noqa: T201
                f"  {size / MIB:6.1f} MiB body: {status or 'no answer'}; the server took "
                f"{taken / MIB:.1f} MiB of it out; VmRSS now {rss_mib(worker):.0f} MiB"
            )
        time.sleep(1)
        after = rss_mib(worker)
        print(f"VmRSS after: {after:.0f} MiB (grew {after - before:+.0f} MiB)")  # noqa: T201
        print(  # noqa: T201
            f"a refused 64 MiB body is answered in {statistics.median(seconds) / small:.1f}x "
            "the time of a small authenticated call"
        )
        with ExitStack() as held:
            stalled_connections(url, 12, held)
            time.sleep(0.5)
            try:
                loaded = median_call(url, token, runs=3)
                verdict = f"{loaded / small:.1f}x its time on an idle worker"
            except requests.RequestException as exc:
                verdict = f"failed ({type(exc).__name__}): every worker thread was held"
        print(  # noqa: T201
            f"with 12 connections declaring Content-Length 999999999 open, a legitimate call "
            f"took {verdict}"
        )


if __name__ == "__main__":
    main()
