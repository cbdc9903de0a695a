"""A small HTTP load generator (threads + http.client, keep-alive), loopback only.

Two ways to drive a server:
- `fixed_rate`: requests at a steady rate (open loop). Each request has a scheduled send
  time, and its latency is counted from that time, so a server that falls behind is
  charged for the wait (no "coordinated omission").
- `flat_out`: a fixed number of connections sending back to back (closed loop), for the
  highest throughput the server sustains.

Both stop by themselves: after `duration` seconds and never more than `max_requests`.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from report import percentile

# (path, body, headers) for the n-th request
RequestFactory = Callable[[int], tuple[str, bytes, dict[str, str]]]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    # Request numbers that got no answer or a 5xx (a sender like Twilio would retry them).
    failed: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, n: int, latency: float, status: int) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 500:
                self.failed.append(n)

    def error(self, n: int) -> None:
        with self.lock:
            self.errors += 1
            self.failed.append(n)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def p(self, pct: float) -> float:
        return percentile(self.latencies, pct)

    @property
    def bad_statuses(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 400)


class _Connection:
    """One client connection. With `keep_alive` off, each request opens a new connection
    (as webhooks from many senders arrive), so gunicorn spreads them over its workers; a
    kept-alive connection stays with the worker that accepted it."""

    def __init__(self, host: str, port: int, timeout: float, keep_alive: bool) -> None:
        if host not in LOOPBACK:
            raise SystemExit(f"the load generator only talks to loopback, not {host}")
        self.host, self.port, self.timeout = host, port, timeout
        self.keep_alive = keep_alive
        self.conn: http.client.HTTPConnection | None = None

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST" if body else "GET", path, body=body, headers=headers)
                response = self.conn.getresponse()
                response.read()
                if not self.keep_alive or response.getheader("Connection", "") == "close":
                    self.close()
                return response.status
            except (ConnectionError, http.client.HTTPException, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def fixed_rate(
    host: str,
    port: int,
    make_request: RequestFactory,
    *,
    rate: float,
    duration: float,
    workers: int = 48,
    timeout: float = 10.0,
    max_requests: int = 200_000,
    keep_alive: bool = False,
) -> Outcome:
    total = min(int(rate * duration), max_requests)
    outcome = Outcome()
    start = time.perf_counter() + 0.2

    def worker(index: int) -> None:
        connection = _Connection(host, port, timeout, keep_alive)
        try:
            for n in range(index, total, workers):
                due = start + n / rate
                path, body, headers = make_request(n)
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                try:
                    status = connection.send(path, body, headers)
                except Exception:
                    outcome.error(n)
                    continue
                outcome.record(n, time.perf_counter() - due, status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + timeout + 30)
    outcome.elapsed = max(time.perf_counter() - start, 1e-9)
    return outcome


def flat_out(
    host: str,
    port: int,
    make_request: RequestFactory,
    *,
    connections: int,
    duration: float,
    timeout: float = 10.0,
    max_requests: int = 200_000,
    keep_alive: bool = False,
) -> Outcome:
    outcome = Outcome()
    counter = itertools.count()
    start = time.perf_counter()
    deadline = start + duration

    def worker() -> None:
        connection = _Connection(host, port, timeout, keep_alive)
        try:
            while time.perf_counter() < deadline:
                n = next(counter)
                if n >= max_requests:
                    return
                path, body, headers = make_request(n)
                sent = time.perf_counter()
                try:
                    status = connection.send(path, body, headers)
                except Exception:
                    outcome.error(n)
                    continue
                outcome.record(n, time.perf_counter() - sent, status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + timeout + 30)
    outcome.elapsed = time.perf_counter() - start
    return outcome
