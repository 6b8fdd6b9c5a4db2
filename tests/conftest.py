"""Personas: the vendor's admin and API key, a customer's finance user, and a stranger who must see nothing."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from accounts.api.authentication import clear_key_cache
from accounts.models import Customer, Organization, User
from accounts.selectors import customer_id_cache
from accounts.services import api_key_create
from tests.factories import CustomerFactory, OrganizationFactory, UserFactory


class ApiClient:
    """A Django test client that speaks JSON with an organization's API key."""

    def __init__(self, raw_key: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        self.raw_key = raw_key

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body if body is not None else {})
        return self.client.post(path, data, content_type="application/json", **extra)


@dataclass
class Vendor:
    organization: Organization
    api: ApiClient
    admin: User
    customer: Customer


@pytest.fixture(autouse=True)
def _fresh_key_cache() -> None:
    clear_key_cache()
    customer_id_cache.clear()


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _truncate_unmanaged_tables(request: pytest.FixtureRequest):
    """The usage tables are unmanaged (plain SQL), so Django's flush after a transactional test skips
    them; empty them here so no test sees another's events."""
    yield
    if _is_transactional(request):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE metering_usageevent, metering_usagekey")


def make_vendor(slug: str) -> Vendor:
    organization = OrganizationFactory.create(slug=slug, name=slug.title())
    _, raw_key = api_key_create(organization=organization)
    admin = UserFactory.create(organization=organization, username=f"{slug}-admin", role=User.Role.VENDOR_ADMIN)
    customer = CustomerFactory.create(organization=organization, external_id="acme", name="Acme Corp")
    return Vendor(organization, ApiClient(raw_key), admin, customer)


@pytest.fixture
def vendor(db: None) -> Vendor:
    return make_vendor("vendor")


@pytest.fixture
def stranger(db: None) -> Vendor:
    """Another organization with a customer of the same external_id: it must never see the vendor's data."""
    return make_vendor("stranger")


@pytest.fixture
def finance_user(vendor: Vendor) -> User:
    return UserFactory.create(
        organization=vendor.organization, customer=vendor.customer, role=User.Role.CUSTOMER_FINANCE,
        username="acme-finance",
    )


@pytest.fixture
def worker_queue(tmp_path: Path) -> Iterator[str]:
    """A real Celery worker on a queue of its own, every task sent from the test going to it (not run
    in-process); stopped and the settings put back afterwards."""
    from config.celery import app as celery_app
    from tests.processes import start_celery_worker

    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    process = start_celery_worker(queue=queue, log_path=tmp_path / "worker.log")
    yield queue
    process.terminate()
    process.wait(timeout=30)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
