"""Start real processes (a Celery worker, gunicorn) against the test database."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


def start_celery_worker(*, queue: str, log_path: Path, concurrency: int = 2, **env: str) -> subprocess.Popen[bytes]:
    """A worker on `queue`, in a session of its own so a test can SIGKILL it with its pool (os.killpg).
    The log is appended to, so a restart on the same `log_path` keeps the earlier worker's lines."""
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, f"--concurrency={concurrency}",
         "--pool=prefork", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=process_env(**{**env, "CELERY_QUEUE": queue}), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child holds its own descriptor
    return process


def celery_reroute() -> None:
    """Make the Celery app route by its current `task_routes`: its router is cached with the routes it was
    first built from, so a test that changes them must flush both (and again when it puts them back)."""
    from config.celery import app

    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


def start_celery_beat(*, queue: str, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """Beat sending the periodic tasks to `queue`, its schedule file next to its log."""
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
         "--schedule", str(log_path.with_suffix(".schedule"))],
        cwd=ROOT, env=process_env(**{**env, "CELERY_QUEUE": queue}), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return process


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


def _answers(port: int, request: bytes, reply: bytes) -> bool:
    """True once the server on the port answers `request` with something starting with `reply`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(request)
            return sock.recv(16).startswith(reply)
    except OSError:
        return False


def _answers_http(port: int) -> bool:
    """True once anything on the port speaks HTTP (any status counts)."""
    return _answers(port, b"GET /api/v1/meters HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", b"HTTP/")


# -- throwaway servers for fault tests: never the machine's own PostgreSQL or Redis ---------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no {name} under /usr/lib/postgresql/*/bin")
    return str(found[-1])


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, a free port, trust auth) that a
    test may stop and start at will. Run as the postgres user when the tests run as root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tally-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres", group="postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options,
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session as a restart does; `immediate` is a crash."""
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def copy_database(self, *, source_url: str, name: str) -> None:
        """A copy of `source_url`'s database (schema and rows) as `name` on this cluster."""
        self._run(_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        dump = subprocess.run([_postgres_bin("pg_dump"), "--no-owner", "--no-privileges", source_url],
                              check=True, capture_output=True)
        subprocess.run([_postgres_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url(name)], input=dump.stdout,
                       check=True, capture_output=True)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        path = self.dir / "log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd=self.dir)


class PrivateRedis:
    """A redis-server of its own on a free port, in memory only, that a test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not come up")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _answers_ping(port: int) -> bool:
    return _answers(port, b"PING\r\n", b"+PONG")
