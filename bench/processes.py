"""Starting and stopping what a benchmark runs against: gunicorn (with the project's
gunicorn.conf.py), `flask outbox work` processes and the fake Twilio server, each a
subprocess on a free loopback port, each stopped by the benchmark that started it."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import database

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
LOG_DIR = Path(tempfile.gettempdir()) / "prosms-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database_url: str, public_base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production install, except for the fake Twilio (explicitly
    allowed): APP_ENV=production, a real secret, PostgreSQL, no in-process dispatcher."""
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database.libpq_url(database_url),
        "PUBLIC_BASE_URL": public_base_url,
        "TWILIO_FAKE": "1",
        "ALLOW_FAKE_TWILIO_IN_PRODUCTION": "1",
        "OUTBOX_THREAD": "0",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


class Process:
    """A subprocess with its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop())
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the benchmark reaches us, not them
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the process and its children (gunicorn's
        workers), read from /proc; 0 where /proc is not available."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pending = [self.popen.pid]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    pending.extend(int(child) for child in children)
            except (OSError, ValueError, IndexError):
                continue
        return total

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat: the
    difference of two readings says how busy every core was in between."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / tick, sum(fields) / tick


def wait_for_http(process: Process, port: int, path: str = "/", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise SystemExit(f"{process.name} exited:\n{process.tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    process.stop()
    raise SystemExit(f"{process.name} did not answer on port {port}:\n{process.tail()}")


def gunicorn(name: str, app_spec: str, port: int, env: dict[str, str]) -> Process:
    """gunicorn with the project's gunicorn.conf.py (workers, threads, timeouts), bound to
    a loopback port. `app_spec` is e.g. "wsgi:app" or "bare_app:app" (found in bench/)."""
    process = Process(
        name,
        [
            str(BIN / "gunicorn"),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--pythonpath",
            str(BENCH),
            app_spec,
        ],
        env,
    )
    wait_for_http(process, port, "/login" if app_spec == "wsgi:app" else "/")
    return process


def outbox_worker(name: str, env: dict[str, str], concurrency: int) -> Process:
    process = Process(
        name,
        [str(BIN / "flask"), "outbox", "work", "--concurrency", str(concurrency)],
        env,
    )
    deadline = time.monotonic() + 60
    while "Outbox worker running" not in process.tail(200):
        if not process.alive() or time.monotonic() > deadline:
            process.stop()
            raise SystemExit(f"{name} did not start:\n{process.tail()}")
        time.sleep(0.2)
    return process


def fake_twilio(name: str, port: int, env: dict[str, str], *args: str) -> Process:
    process = Process(
        name,
        [sys.executable, str(BENCH / "fake_twilio_server.py"), "--port", str(port), *args],
        env,
    )
    wait_for_http(process, port, "/_bench/health")
    return process


def gunicorn_workers(env: dict[str, str]) -> str:
    """What gunicorn.conf.py resolves to under `env` (for the report)."""
    code = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(f\"{c['workers']} workers x {c['threads']} threads\")"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.strip()
