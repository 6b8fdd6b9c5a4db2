import io

import pytest
from django.core.management import call_command

from accounts.models import ApiKey, Organization
from accounts.services import hash_api_key
from tests.conftest import ApiClient


@pytest.mark.django_db
def test_create_api_key_creates_the_organization_and_prints_the_key_last() -> None:
    out = io.StringIO()
    call_command("create_api_key", "--organization", "northwind", stdout=out, stderr=io.StringIO())
    raw_key = out.getvalue().strip().splitlines()[-1]

    organization = Organization.objects.get(slug="northwind")
    stored = ApiKey.objects.get(organization=organization)
    assert stored.key_hash == hash_api_key(raw_key)
    assert raw_key not in {stored.key_hash, stored.prefix}, "the raw key is never stored"
    assert ApiClient(raw_key).get("/api/v1/customers").status_code == 200


@pytest.mark.django_db
def test_create_api_key_reuses_an_existing_organization() -> None:
    for _ in range(2):
        call_command("create_api_key", "--organization", "northwind", stdout=io.StringIO(), stderr=io.StringIO())
    assert Organization.objects.filter(slug="northwind").count() == 1
    assert ApiKey.objects.filter(organization__slug="northwind").count() == 2


@pytest.mark.django_db
def test_request_without_or_with_a_wrong_key_is_refused(client) -> None:
    assert client.get("/api/v1/customers").status_code in {401, 403}
    response = ApiClient("tly_not-a-key").get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoked_key_is_refused(vendor) -> None:
    from django.utils import timezone

    from accounts.api.authentication import clear_key_cache

    ApiKey.objects.filter(organization=vendor.organization).update(revoked_at=timezone.now())
    clear_key_cache()
    assert vendor.api.get("/api/v1/customers").status_code == 401
