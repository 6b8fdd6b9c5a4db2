"""A revoked key is refused on the very next request by every worker of a real gunicorn."""

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from accounts.services import api_key_create, api_key_revoke
from tests.factories import OrganizationFactory
from tests.processes import start_gunicorn, stop_gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Redis db 5 is this suite's; gunicorn's workers and this process share it as the cache.
CACHE_URL = "redis://127.0.0.1:6379/5"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(port: int, raw_key: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/customers",
                                     headers={"Authorization": f"Bearer {raw_key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_revoked_key_is_refused_by_every_worker_on_the_next_request(settings: object, tmp_path: Path) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",  # type: ignore[attr-defined]
                                   "LOCATION": CACHE_URL}}
    organization = OrganizationFactory.create(slug="revoker")
    api_key, raw_key = api_key_create(organization=organization)
    port = _free_port()
    server = start_gunicorn(port=port, log_path=tmp_path / "gunicorn.log", workers=2, CACHE_URL=CACHE_URL)
    try:
        # Both workers have seen (and remember) the key.
        assert [_status(port, raw_key) for _ in range(8)] == [200] * 8

        api_key_revoke(organization=organization, api_key_id=api_key.pk)

        assert [_status(port, raw_key) for _ in range(8)] == [401] * 8
    finally:
        stop_gunicorn(server)
