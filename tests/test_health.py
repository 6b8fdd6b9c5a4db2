"""/healthz answers while the process lives; /readyz answers 200 only when the database and broker are reachable."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_healthz_answers_without_a_database_query() -> None:
    # No django_db mark: any database access here would raise instead of answering.
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_broker_answer(settings) -> None:
    settings.CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")

    response = Client().get("/readyz")

    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_its_port_is_closed(settings) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("down")


def test_readyz_is_503_naming_the_database_when_it_is_unreachable() -> None:
    # A process of its own: the test database's connection stays untouched.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_closed_port()}/tally", "CELERY_BROKER_URL": ""}
    probe = ("import django, json; django.setup(); from django.test import Client; "
             "r = Client().get('/readyz'); print(json.dumps([r.status_code, r.json()]))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr

    status, body = json.loads(result.stdout.strip().splitlines()[-1])

    assert status == 503
    assert body["down"] == ["database"]
    assert body["checks"]["broker"] == "ok"  # no broker configured: tasks run in-process


def test_health_endpoints_refuse_other_methods() -> None:
    assert Client().post("/healthz").status_code == 405
