"""A meter's unique_property is read by name inside queries: only safe names get in, by any door."""

import pytest
from django.db import IntegrityError, connection, transaction

from core.errors import DomainError
from metering.models import Meter
from metering.services import meter_create
from tests.conftest import Vendor

pytestmark = pytest.mark.django_db

HOSTILE = ["user') OR true --", "a b", "user\n", "usér", "x" * 101]


def create(vendor: Vendor, **overrides: str) -> Meter:
    fields = {"code": "active_users", "name": "Active users", "unit": "user", "aggregation": "unique_count",
              "unique_property": "user.id-1", **overrides}
    return meter_create(organization=vendor.organization, **fields)


def test_a_unique_count_meter_may_count_by_a_dotted_property(vendor: Vendor) -> None:
    assert create(vendor).unique_property == "user.id-1"


@pytest.mark.parametrize("unique_property", HOSTILE)
def test_the_service_refuses_a_hostile_unique_property(vendor: Vendor, unique_property: str) -> None:
    with pytest.raises(DomainError) as refused:
        create(vendor, unique_property=unique_property)

    assert refused.value.field == "unique_property"
    assert not Meter.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("code", "gpu seconds"), ("code", ""), ("aggregation", "median")])
def test_the_service_refuses_a_bad_code_or_aggregation(vendor: Vendor, field: str, value: str) -> None:
    with pytest.raises(DomainError) as refused:
        create(vendor, **{field: value})

    assert refused.value.field == field


def test_the_database_refuses_a_hostile_unique_property_written_around_the_service(vendor: Vendor) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO metering_meter (organization_id, code, name, unit, aggregation, unique_property, created_at)
               VALUES (%s, 'active_users', 'Active users', 'user', 'unique_count', %s, now())""",
            [vendor.organization.pk, "user') OR true --"],
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Meter.objects.create(organization=vendor.organization, code="seats", aggregation="unique_count",
                             unique_property="user\n")


def test_the_api_answers_400_naming_unique_property(vendor: Vendor) -> None:
    response = vendor.api.post("/api/v1/meters", {"code": "active_users", "name": "Active users", "unit": "user",
                                                  "aggregation": "unique_count", "unique_property": "a b"})

    assert response.status_code == 400
    assert "unique_property" in response.json()["errors"]
