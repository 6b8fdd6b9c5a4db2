"""Production settings, loaded in a process of their own: HTTPS only (HSTS, redirect, secure cookies), a
content security policy, the proxy's scheme header trusted only when asked, and no Server banner."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Requests made under config.settings.production by the test client; each answer as (status, headers, cookies).
_PROBE = """
import json, django
django.setup()
from django.test import Client
answers = {}
for name, path, extra in [
    ("plain", "/login/", {}),
    ("secure", "/login/", {"secure": True}),
    ("forwarded", "/login/", {"HTTP_X_FORWARDED_PROTO": "https"}),
    ("probe", "/healthz", {}),
]:
    response = Client().get(path, **extra)
    answers[name] = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {key: {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"])}
                    for key, morsel in response.cookies.items()},
    }
print(json.dumps(answers))
"""


def _production(**env: str) -> dict[str, dict]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE_", "TRUST_PROXY"))}
    base.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", "DEBUG": "0",
                 "SECRET_KEY": "a-production-secret-for-the-test", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3"})
    base.update(env)
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=base, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    answers: dict[str, dict] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


@pytest.fixture(scope="module")
def defaults() -> dict[str, dict]:
    return _production()


def test_plain_http_is_redirected_to_https_but_probes_are_not(defaults) -> None:
    assert defaults["plain"]["status"] == 301
    assert defaults["plain"]["headers"]["Location"] == "https://testserver/login/"
    assert defaults["probe"]["status"] == 200


def test_https_answers_carry_hsts_for_a_year(defaults) -> None:
    secure = defaults["secure"]
    assert secure["status"] == 200
    assert secure["headers"]["Strict-Transport-Security"] == "max-age=31536000"


def test_cookies_are_secure_over_https(defaults) -> None:
    cookies = defaults["secure"]["cookies"]
    assert cookies["csrftoken"]["secure"] is True


def test_pages_carry_the_content_security_policy(defaults) -> None:
    policy = dict(
        directive.strip().split(" ", 1) for directive in
        defaults["secure"]["headers"]["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no nonce asked for by the login page, and never 'unsafe-inline'
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert defaults["secure"]["headers"]["X-Content-Type-Options"] == "nosniff"


def test_the_forwarded_scheme_is_ignored_unless_the_proxy_is_trusted(defaults) -> None:
    assert defaults["forwarded"]["status"] == 301  # a client cannot claim HTTPS by sending the header

    trusted = _production(TRUST_PROXY_SSL_HEADER="1")

    assert trusted["forwarded"]["status"] == 200
    assert "Strict-Transport-Security" in trusted["forwarded"]["headers"]


def test_hsts_and_redirect_follow_the_environment() -> None:
    answers = _production(SECURE_HSTS_SECONDS="600", SECURE_HSTS_INCLUDE_SUBDOMAINS="1", SECURE_HSTS_PRELOAD="1",
                          SECURE_SSL_REDIRECT="0")

    assert answers["plain"]["status"] == 200
    assert answers["secure"]["headers"]["Strict-Transport-Security"] == "max-age=600; includeSubDomains; preload"


def test_production_settings_refuse_a_bad_boolean() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DEBUG": "0",
           "SECRET_KEY": "x-secret", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3", "SECURE_SSL_REDIRECT": "maybe"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT='maybe' is not a boolean" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_with_its_config_sends_no_server_banner() -> None:
    port = _free_port()
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    if not gunicorn.exists():
        gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "1"}
    server = subprocess.Popen([str(gunicorn), "-c", "config/gunicorn.py", "config.wsgi:application"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        response = None
        for _ in range(300):  # until the worker listens: polled, not timed
            try:
                response = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError("gunicorn exited") from None
                time.sleep(0.1)
        assert response is not None and response.status == 200
        assert response.headers.get("Server") is None, response.headers.get("Server")
        assert json.loads(response.read()) == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(timeout=30)
