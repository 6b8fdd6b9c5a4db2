"""`make demo`'s runner: it says the demo is ready only once the web server accepts connections, on the
port asked for, counting the time since the start it is given; and it refuses a port already taken."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _env() -> dict[str, str]:
    database = settings.DATABASES["default"]
    url = f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base", "PYTHONUNBUFFERED": "1"}


@pytest.mark.django_db
def test_ready_is_printed_after_the_server_listens_and_counts_the_whole_start() -> None:
    port = _free_port()
    started = time.time() - 42  # as if `make demo` had spent 42 s building the virtualenv
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "run_demo", "--no-seed", "--port", str(port), "--started", str(started)],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    try:
        assert runner.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = runner.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Tally demo ready in" in line:
                # At the moment it says so, the server answers.
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    pass
                seconds = float(line.split("ready in ", 1)[1].split(" s", 1)[0])
                assert seconds >= 42
                assert f"http://127.0.0.1:{port}/" in line
                break
        else:
            pytest.fail("no ready message in 90 s:\n" + "".join(lines))
        assert any("Tally demo ready" in line for line in lines), "".join(lines)
    finally:
        runner.terminate()
        runner.wait(20)
    # Stopping the runner stops its server too: nothing listens on the port any more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _listening(port):
        time.sleep(0.1)
    assert not _listening(port)
    output = "".join(lines)
    assert "pgserver" not in output and "RuntimeDirWarning" not in output


@pytest.mark.django_db
def test_a_port_already_taken_is_refused_with_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_demo", "--no-seed", "--port", str(port)],
            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"Something already listens on 127.0.0.1:{port}" in result.stderr
    assert "make demo PORT=" in result.stderr
