"""The console's verification sources page: add a source (its secret shown once, stored encrypted), its
callback address, rotate its secret (the old one stops verifying); vendor admins only, per organization."""

import json
import time

import pytest
from django.db import connection

from accounts.models import User
from outcomes.models import VerificationSource
from outcomes.signing import callback_signature
from tests.conftest import Vendor
from tests.factories import UserFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db
PAGE = "/settings/verification-sources/"


def _signed_status(vendor: Vendor, secret: str) -> int:
    """The callback endpoint's answer to a delivery signed with `secret` (404: it verified, then found no
    such outcome; 401: the signature did not verify)."""
    body = json.dumps({"id": f"d-{time.time_ns()}", "idempotency_key": "nope", "verdict": "confirmed"}).encode()
    header = callback_signature(secret=secret, timestamp=int(time.time()), body=body)
    return vendor.api.client.post(f"/api/v1/verification/{vendor.organization.slug}/zendesk", body,
                                  content_type="application/json", HTTP_TALLY_SIGNATURE=header).status_code


def test_adding_a_source_shows_its_secret_once_and_its_callback_address(vendor: Vendor) -> None:
    client = login(vendor.admin)
    answer = client.post(PAGE, {"code": "zendesk", "name": "Zendesk", "method": "system_of_record"})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    source = VerificationSource.objects.get(organization=vendor.organization)
    page = answer.content.decode()
    assert source.secret in page and f"/api/v1/verification/{vendor.organization.slug}/zendesk" in page
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM outcomes_verificationsource WHERE id = %s", [source.pk])
        assert source.secret not in cursor.fetchone()[0]
    listed = client.get(PAGE).content.decode()
    assert "/zendesk</code>" in listed and source.secret not in listed
    assert _signed_status(vendor, source.secret) == 404  # the shown secret verifies


def test_a_duplicate_code_or_a_bad_one_is_refused_on_the_form(vendor: Vendor) -> None:
    client = login(vendor.admin)
    client.post(PAGE, {"code": "zendesk", "name": "Zendesk", "method": "system_of_record"})
    again = client.post(PAGE, {"code": "zendesk", "name": "Other", "method": "evaluator"})
    assert again.status_code == 409 and "already exists" in again.content.decode()
    bad = client.post(PAGE, {"code": "no spaces", "name": "X", "method": "system_of_record"})
    assert bad.status_code == 400 and VerificationSource.objects.count() == 1


def test_rotating_shows_a_new_secret_and_the_old_one_stops(vendor: Vendor) -> None:
    client = login(vendor.admin)
    client.post(PAGE, {"code": "zendesk", "name": "Zendesk", "method": "system_of_record"})
    old = VerificationSource.objects.get().secret
    answer = client.post(f"{PAGE}zendesk/rotate/")
    new = VerificationSource.objects.get().secret
    assert answer.status_code == 200 and new != old and new in answer.content.decode()
    assert "old secret no longer verifies" in answer.content.decode()
    assert (_signed_status(vendor, old), _signed_status(vendor, new)) == (401, 404)


def test_only_vendor_admins_of_the_organization_reach_it(vendor: Vendor, stranger: Vendor) -> None:
    login(vendor.admin).post(PAGE, {"code": "zendesk", "name": "Zendesk", "method": "system_of_record"})
    member = UserFactory.create(organization=vendor.organization, role=User.Role.VENDOR_MEMBER, username="ana")
    assert login(member).get(PAGE).status_code == 403
    theirs = login(stranger.admin)
    assert "/zendesk</code>" not in theirs.get(PAGE).content.decode()  # not in their list
    assert theirs.post(f"{PAGE}zendesk/rotate/").status_code == 404
