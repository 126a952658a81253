"""Child processes in their own process groups: start, probe, stop, and find leftovers.

The emulators are ``gcloud`` Python wrappers that fork Java servers, and functions-framework runs
gunicorn with forked workers. Killing only the process we started would leave those children
running, so every child gets its own session (and so its own process group) and is stopped by
group. Liveness and group membership come from psutil (Linux and macOS alike), because a group
can outlive its leader.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

LOCALHOST = "127.0.0.1"


@dataclass
class Child:
    """One started process; ``pid`` is also its process group id."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    start_time: float | None
    leaves_first: bool = False  # how to stop it: see stop_groups

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        """The exit code once the started process has ended, else None."""
        return self.popen.poll()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    leaves_first: bool = False,
) -> Child:
    """Start ``argv`` in a new session, stdout and stderr to ``log_path`` (truncated)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, popen, log_path, process_start_time(popen.pid), leaves_first)


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch, as psutil reports it): tells a process
    from a later one reusing its pid. None when there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _group_processes(pgid: int) -> dict[int, int]:
    """Living (non-zombie) members of process group ``pgid``, each with its parent's pid."""
    members = {}
    for process in psutil.process_iter(["ppid", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(process.pid) == pgid:
                members[process.pid] = int(process.info["ppid"] or 0)
        except (ProcessLookupError, PermissionError):
            continue  # ended meanwhile, or not ours to see
    return members


def group_members(pgid: int) -> list[int]:
    """Pids of the living (non-zombie) processes in process group ``pgid``."""
    return list(_group_processes(pgid))


def is_alive(pid: int, start_time: float | None) -> bool:
    """Whether ``pid`` still runs and is the process that started at ``start_time``."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return start_time is None or process.create_time() == start_time
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def terminate(pid: int, start_time: float | None, *, grace: float) -> None:
    """SIGTERM one process (not its group), SIGKILL it if it still runs after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not is_alive(pid, start_time):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while is_alive(pid, start_time) and time.monotonic() < deadline:
            time.sleep(0.05)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_leaves(pgid: int, sig: signal.Signals) -> None:
    members = _group_processes(pgid)
    for pid in set(members) - set(members.values()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_groups(
    pgids: Iterable[int], *, grace: float = 5.0, leaves_first: Collection[int] = ()
) -> list[int]:
    """SIGTERM each group, SIGKILL what is left after ``grace`` seconds; returns the groups that
    needed SIGKILL. Returns once no living member remains (or after a further bounded wait).

    Groups in ``leaves_first`` get SIGTERM only in the processes without children, and their
    parents exit when those do. That suits wrapper chains (gcloud -> bash -> java): signalled
    all at once, the wrappers die first and leave the Java server an orphan that lingers as a
    zombie until init collects it. It does not suit gunicorn, whose master restarts a worker
    that exits; gunicorn gets SIGTERM as a whole group.
    """
    pending = [pgid for pgid in pgids if group_members(pgid)]
    for pgid in pending:
        if pgid in leaves_first:
            _signal_leaves(pgid, signal.SIGTERM)
        else:
            _signal_group(pgid, signal.SIGTERM)
    pending = _wait_groups_empty(pending, grace)
    for pgid in pending:
        _signal_group(pgid, signal.SIGKILL)
    _wait_groups_empty(pending, 5.0)
    return pending


def _wait_groups_empty(pgids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        pgids = [pgid for pgid in pgids if group_members(pgid)]
        if not pgids or time.monotonic() >= deadline:
            return pgids
        time.sleep(0.05)


def stop_children(children: Sequence[Child], *, grace: float = 5.0) -> list[int]:
    """Stop the groups of ``children`` together and reap the processes we started."""
    killed = stop_groups(
        [child.pid for child in children],
        grace=grace,
        leaves_first={child.pid for child in children if child.leaves_first},
    )
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.popen.wait(timeout=1.0)
    return killed


def free_port(host: str = LOCALHOST) -> int:
    """A port the OS reports free right now (another process could still take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Whether a GET on ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local http URL
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (decoded leniently), or a note that it is empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "(no log written)"
    text = data.decode("utf-8", errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:]) if text else "(log is empty)"
