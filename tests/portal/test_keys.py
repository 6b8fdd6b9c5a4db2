"""The vendor console's API keys page: create (shown once), list, revoke; vendor admins only."""

import re

import pytest

from accounts.models import ApiKey, User
from accounts.services import hash_api_key
from tests.conftest import ApiClient, Vendor
from tests.factories import UserFactory
from tests.portal.conftest import login


def test_a_vendor_admin_creates_a_key_shown_once_then_lists_and_revokes_it(vendor: Vendor) -> None:
    client = login(vendor.admin)
    created = client.post("/settings/api-keys/", {"name": "ingestion prod", "scope": "ingest"})
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    raw_key = re.search(r'id="new-key">(tly_[^<]+)<', created.content.decode()).group(1)  # type: ignore[union-attr]
    api_key = ApiKey.objects.get(key_hash=hash_api_key(raw_key))
    assert (api_key.organization, api_key.name, api_key.scope) == (vendor.organization, "ingestion prod", "ingest")
    assert ApiClient(raw_key).post("/api/v1/usage-events", {"events": []}).status_code == 200

    listing = client.get("/settings/api-keys/").content.decode()
    assert raw_key not in listing, "the key is shown once, at creation"
    assert f"{api_key.prefix}…" in listing and "ingestion prod" in listing

    assert client.post(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 302
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    assert ApiClient(raw_key).post("/api/v1/usage-events", {"events": []}).status_code == 401
    assert "revoked" in client.get("/settings/api-keys/").content.decode()


def test_a_key_needs_a_name_and_a_known_scope(vendor: Vendor) -> None:
    response = login(vendor.admin).post("/settings/api-keys/", {"name": "", "scope": "root"})
    assert response.status_code == 400
    assert ApiKey.objects.filter(organization=vendor.organization).count() == 1


@pytest.mark.parametrize("role", [User.Role.CUSTOMER_FINANCE, User.Role.VENDOR_MEMBER])
def test_customer_users_and_vendor_members_get_403(vendor: Vendor, role: str) -> None:
    user = UserFactory.create(organization=vendor.organization, role=role, username=f"u-{role}",
                              customer=vendor.customer if role == User.Role.CUSTOMER_FINANCE else None)
    api_key = ApiKey.objects.get(organization=vendor.organization)
    client = login(user)
    assert client.get("/settings/api-keys/").status_code == 403
    assert client.post("/settings/api-keys/", {"name": "x", "scope": "admin"}).status_code == 403
    assert client.post(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None
    assert "API keys" not in client.get("/invoices/").content.decode()


def test_another_organizations_admin_cannot_see_or_revoke_the_keys(vendor: Vendor, stranger: Vendor) -> None:
    api_key = ApiKey.objects.get(organization=vendor.organization)
    client = login(stranger.admin)
    assert api_key.prefix not in client.get("/settings/api-keys/").content.decode()
    assert client.post(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_the_page_reads_the_keys_in_a_fixed_number_of_queries(vendor: Vendor, django_assert_max_num_queries) -> None:
    from accounts.services import api_key_create

    for n in range(5):
        api_key_create(organization=vendor.organization, name=f"k{n}", customer=vendor.customer if n % 2 else None)
    client = login(vendor.admin)
    with django_assert_max_num_queries(6):
        assert client.get("/settings/api-keys/").status_code == 200
