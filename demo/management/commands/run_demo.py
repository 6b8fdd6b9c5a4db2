"""`make demo`: migrate, seed, start the web server, and say the demo is ready once the server answers.

The ready message counts the whole start (from `--started`, when `make demo` began, so building the
virtualenv and the embedded database are in it) and is printed only after the server accepts a
connection on its port.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

# How long the server may take to listen after it starts (it imports the project and runs its checks).
LISTEN_TIMEOUT_SECONDS = 60.0


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


class Command(BaseCommand):
    help = "Migrate, seed the demo and serve it; prints when it is ready."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--started", type=float, default=None,
                            help="epoch seconds when the start began (make passes it); default: now")
        parser.add_argument("--no-seed", action="store_true", help="serve the database as it is")

    def handle(self, *args: Any, **options: Any) -> None:
        started = options["started"] or time.time()
        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1-65535).")
        if port_is_open(host, port):
            raise CommandError(f"Something already listens on {host}:{port}; pick another port: make demo PORT=8001")
        base_url = f"http://{host}:{port}"
        # Links the seed prints and the server writes (one-click confirmations, Stripe webhooks) use this port.
        os.environ["PORTAL_PUBLIC_URL"] = base_url
        settings.PORTAL_PUBLIC_URL = base_url
        self.stdout.write("Applying migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_seed"]:
            call_command("seed_demo", base_url=base_url, stdout=self.stdout)
        # The development server, without its reloader (one process to stop), serves the static files
        # through WhiteNoise as the production server does.
        server = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runserver", f"{host}:{port}", "--noreload",
             "--skip-checks"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # A SIGTERM (a supervisor, `kill`) stops the server too, through the `finally` below.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            deadline = time.monotonic() + LISTEN_TIMEOUT_SECONDS
            while not port_is_open(host, port):
                if server.poll() is not None:
                    raise CommandError(f"The web server exited ({server.returncode}) before listening on {port}.")
                if time.monotonic() > deadline:
                    raise CommandError(f"The web server did not listen on {port} in {LISTEN_TIMEOUT_SECONDS:.0f} s.")
                time.sleep(0.1)
            self.stdout.write(self.style.SUCCESS(
                f"\nTally demo ready in {time.time() - started:.1f} s: {base_url}/  "
                f"(log in as vendor-admin / tally-demo-vendor). Ctrl-C stops the server; `make stop-db` the database."
            ))
            server.wait()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server…")
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()
