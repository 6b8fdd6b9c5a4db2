"""Personas: the vendor's admin and API key, a customer's finance user, and a stranger who must see nothing."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.api.authentication import clear_key_cache
from accounts.models import Customer, Organization, User
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


def make_vendor(slug: str) -> Vendor:
    organization = OrganizationFactory(slug=slug, name=slug.title())
    _, raw_key = api_key_create(organization=organization)
    admin = UserFactory(organization=organization, username=f"{slug}-admin", role=User.Role.VENDOR_ADMIN)
    customer = CustomerFactory(organization=organization, external_id="acme", name="Acme Corp")
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
    return UserFactory(
        organization=vendor.organization, customer=vendor.customer, role=User.Role.CUSTOMER_FINANCE,
        username="acme-finance",
    )
