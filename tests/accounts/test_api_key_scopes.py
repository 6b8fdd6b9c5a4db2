"""API key scopes, last-used time and rate limits: what each kind of key may do, and how often."""

import io
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.api import authentication
from accounts.models import ApiKey
from accounts.services import api_key_create, hash_api_key
from tests.conftest import ApiClient, Vendor

USAGE_BATCH: dict[str, list[object]] = {"events": []}


def _client(vendor: Vendor, scope: str) -> ApiClient:
    _, raw_key = api_key_create(organization=vendor.organization, name=scope, scope=scope)
    return ApiClient(raw_key)


def test_an_ingest_key_posts_events_and_reads_nothing(vendor: Vendor) -> None:
    ingest = _client(vendor, ApiKey.Scope.INGEST)

    assert ingest.post("/api/v1/usage-events", USAGE_BATCH).status_code == 200
    assert ingest.post("/api/v1/outcome-events", USAGE_BATCH).status_code == 200
    for path in ["/api/v1/customers", "/api/v1/usage-events", "/api/v1/invoices", "/api/v1/meters"]:
        response = ingest.get(path)
        assert response.status_code == 403, path
        assert response.json()["detail"] == "An ingest API key may only post usage and outcome events."
    assert ingest.post("/api/v1/customers", {"external_id": "x", "name": "X", "currency": "USD"}).status_code == 403


def test_a_read_key_reads_and_gets_403_on_every_post(vendor: Vendor) -> None:
    read = _client(vendor, ApiKey.Scope.READ)

    assert read.get("/api/v1/customers").status_code == 200
    assert read.get("/api/v1/invoices").status_code == 200
    for path in ["/api/v1/customers", "/api/v1/usage-events", "/api/v1/outcome-events", "/api/v1/meters"]:
        response = read.post(path, {"external_id": "x", "name": "X", "currency": "USD", "events": []})
        assert response.status_code == 403, path
    assert not vendor.organization.customers.filter(external_id="x").exists()


def test_an_admin_key_reads_posts_and_configures(vendor: Vendor) -> None:
    admin = _client(vendor, ApiKey.Scope.ADMIN)
    assert admin.get("/api/v1/customers").status_code == 200
    assert admin.post("/api/v1/usage-events", USAGE_BATCH).status_code == 200
    assert admin.post("/api/v1/customers", {"external_id": "x", "name": "X", "currency": "USD"}).status_code == 201


def test_a_customer_key_is_read_only_whatever_scope_is_asked(vendor: Vendor) -> None:
    api_key, raw_key = api_key_create(
        organization=vendor.organization, customer=vendor.customer, scope=ApiKey.Scope.ADMIN
    )
    assert api_key.scope == ApiKey.Scope.READ
    assert ApiClient(raw_key).post("/api/v1/usage-events", USAGE_BATCH).status_code == 403


@pytest.mark.django_db
def test_create_api_key_takes_a_scope() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_api_key", "--organization", "northwind", "--scope", "everything",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiKey.objects.exists()

    out = io.StringIO()
    call_command("create_api_key", "--organization", "northwind", "--scope", "ingest", stdout=out,
                 stderr=io.StringIO())
    raw_key = out.getvalue().strip().splitlines()[-1]
    assert ApiKey.objects.get(key_hash=hash_api_key(raw_key)).scope == ApiKey.Scope.INGEST


def test_last_used_is_written_once_a_minute_not_per_request(vendor: Vendor) -> None:
    api_key = ApiKey.objects.get(organization=vendor.organization)
    assert api_key.last_used_at is None

    vendor.api.get("/api/v1/customers")
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    for _ in range(5):
        vendor.api.get("/api/v1/customers")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first, "no write per request"

    # A minute later (for this process and in the row) the next request writes it again.
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(seconds=61))
    authentication._last_touched.clear()
    vendor.api.get("/api/v1/customers")
    touched = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert touched is not None and touched > first - timedelta(seconds=1)


@pytest.fixture
def low_limits(settings: object) -> None:
    cache.clear()
    rest = dict(settings.REST_FRAMEWORK)  # type: ignore[attr-defined]
    rest["DEFAULT_THROTTLE_RATES"] = {"ingest": "3/min", "api": "2/min", "callback": "1000000/min"}
    settings.REST_FRAMEWORK = rest  # type: ignore[attr-defined]


def test_api_calls_over_the_key_limit_get_429_with_retry_after(vendor: Vendor, low_limits: None) -> None:
    answers = [vendor.api.get("/api/v1/customers") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "throttled"
    assert 1 <= int(answers[2]["Retry-After"]) <= 60


def test_ingestion_has_its_own_budget_per_key(vendor: Vendor, low_limits: None) -> None:
    statuses = [vendor.api.post("/api/v1/usage-events", USAGE_BATCH).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = vendor.api.post("/api/v1/outcome-events", USAGE_BATCH)
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert json.loads(throttled.content)["code"] == "throttled"

    # The reads' budget is separate, and so is another key's.
    assert vendor.api.get("/api/v1/customers").status_code == 200
    assert _client(vendor, ApiKey.Scope.INGEST).post("/api/v1/usage-events", USAGE_BATCH).status_code == 200


def test_the_schema_documents_429_with_retry_after(client: object) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()  # type: ignore[attr-defined]
    for path in ["/api/v1/usage-events", "/api/v1/customers"]:
        for method in ["get", "post"]:
            answer = schema["paths"][path][method]["responses"]["429"]
            assert "Retry-After" in answer["headers"]


def test_revoked_key_is_refused_at_once_by_this_process(vendor: Vendor) -> None:
    from accounts.services import api_key_revoke

    api_key = ApiKey.objects.get(organization=vendor.organization)
    assert vendor.api.get("/api/v1/customers").status_code == 200
    api_key_revoke(organization=vendor.organization, api_key_id=api_key.pk)
    revoked_at = ApiKey.objects.get(pk=api_key.pk).revoked_at
    assert revoked_at is not None and revoked_at <= timezone.now()
    assert vendor.api.get("/api/v1/customers").status_code == 401
