"""Load generator, run in its own process so its threads never compete with the proxies' for
the benchmark's GIL: ``python -m benchmarks.driver`` reads a job as JSON on stdin and writes
one JSON line per request ``[start, end, status, request_id]`` (``perf_counter`` seconds).

A job: ``{"url", "requests": [{"body": str, "headers": {...}}, ...], "clients": N,
"count": total, "warmup": n}``. Clients take requests round-robin from the list; each client
keeps one keep-alive connection, as a browser or a load balancer would.
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
import urllib.parse
from typing import Any


def _connection(url: str) -> http.client.HTTPConnection:
    parsed = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=120)


def _send(conn: http.client.HTTPConnection, path: str, request: dict[str, Any]) -> tuple[int, str]:
    conn.request("POST", path, body=request["body"].encode(), headers=request["headers"])
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("X-Request-Id", "")


def run(job: dict[str, Any]) -> list[list[Any]]:
    url, requests = job["url"], job["requests"]
    path = urllib.parse.urlsplit(url).path or "/"
    tickets = itertools.count()
    total, warmup = int(job["count"]), int(job.get("warmup", 0))
    results: list[list[Any]] = []
    lock = threading.Lock()

    def client() -> None:
        conn = _connection(url)
        while (n := next(tickets)) < total + warmup:
            request = requests[n % len(requests)]
            started = time.perf_counter()
            try:
                status, request_id = _send(conn, path, request)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = _connection(url)
                status, request_id = 0, ""
            ended = time.perf_counter()
            if n >= warmup:
                with lock:
                    results.append([started, ended, status, request_id])
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(int(job["clients"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    for row in run(json.load(sys.stdin)):
        sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
