"""Start real processes (a Celery worker, gunicorn) against the test database."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    settings = connection.settings_dict
    user = quote(settings["USER"] or "")
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{settings['NAME']}?host={quote(host)}"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{settings['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.base",
                "DEBUG": "1"})
    env.update(extra)
    return env


def start_celery_worker(*, queue: str, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--concurrency=2",
         "--pool=prefork", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=process_env(CELERY_QUEUE=queue), stdout=log, stderr=subprocess.STDOUT,
    )


def start_gunicorn(
    *, port: int, log_path: Path, workers: int = 2, ready_timeout: float = 20.0, **env: str
) -> subprocess.Popen[bytes]:
    """The production server (gunicorn config.wsgi) on 127.0.0.1:`port`, answering when this returns.

    It runs in a session of its own, so `stop_gunicorn` can signal the master and its workers at once.
    The log is appended to, so a restart on the same `log_path` keeps the earlier run's lines.
    """
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--graceful-timeout", "5", "--access-logfile", "-"],
        cwd=ROOT, env=process_env(**env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + ready_timeout
    while not _answers_http(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_gunicorn(process)
            tail = log_path.read_bytes()[-3000:].decode(errors="replace")
            raise RuntimeError(f"gunicorn on port {port} did not come up (exit {process.returncode}):\n"
                               f"{tail}")
        time.sleep(0.05)
    return process


def stop_gunicorn(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send `sig` to gunicorn's whole process group (master and workers), then SIGKILL what is left."""
    _killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    _killpg(process.pid, signal.SIGKILL)  # no worker may outlive its master
    process.wait()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _answers_http(port: int) -> bool:
    """True once anything on the port speaks HTTP (any status counts)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /api/v1/meters HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False
