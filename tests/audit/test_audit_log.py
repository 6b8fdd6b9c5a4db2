"""The audit log: who changed what, when, before and after, and only for the organization's admins."""


import pghistory
import pytest
from django.test import Client
from pghistory.models import Events

from accounts.models import ApiKey, User
from audit.selectors import audit_event_list
from billing.models import Invoice, PriceBook
from tests.conftest import Vendor
from tests.factories import UserFactory
from tests.portal.conftest import build_priced, login


def _events(vendor: Vendor, object_type: str) -> list[Events]:
    return list(audit_event_list(organization=vendor.organization, object_type=object_type))


def test_a_price_book_change_records_who_when_before_and_after(vendor: Vendor) -> None:
    build_priced(vendor, finalize_october=False)
    book = PriceBook.objects.get(customer=vendor.customer)

    with pghistory.context(user=vendor.admin.pk, username=vendor.admin.username):
        PriceBook.objects.filter(pk=book.pk).update(included_outcomes=5)

    created, changed = sorted(_events(vendor, "price_book"), key=lambda e: e.pgh_id)
    assert created.pgh_label == "created" and created.pgh_obj_id == str(book.pk)
    assert changed.pgh_label == "changed"
    assert changed.pgh_diff == {"included_outcomes": [1, 5]}
    assert changed.pgh_context["username"] == vendor.admin.username
    assert changed.pgh_created_at >= created.pgh_created_at
    # Its prices are logged too, scoped through the price book.
    assert [e.pgh_label for e in _events(vendor, "price")] == ["created"]


def test_revoking_a_key_in_the_console_records_who_and_when(vendor: Vendor) -> None:
    api_key = ApiKey.objects.get(organization=vendor.organization)
    response = login(vendor.admin).post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 302

    revoked = [e for e in _events(vendor, "api_key") if e.pgh_label == "changed"]
    assert len(revoked) == 1
    before, after = revoked[0].pgh_diff["revoked_at"]
    assert before is None and after is not None
    assert revoked[0].pgh_context["username"] == vendor.admin.username
    assert revoked[0].pgh_context["url"] == f"/settings/api-keys/{api_key.pk}/revoke/"
    assert "key_hash" not in revoked[0].pgh_data, "a key's hash is never copied into the log"


def test_an_api_key_that_creates_a_customer_is_the_who_of_the_change(vendor: Vendor) -> None:
    response = vendor.api.post("/api/v1/customers", {"external_id": "initech", "name": "Initech", "currency": "USD"})
    assert response.status_code == 201
    # Customers are not audited, but using the key left its use out of the log: no "changed" for last_used_at.
    assert [e.pgh_label for e in _events(vendor, "api_key")] == ["created"]


def test_finalizing_an_invoice_records_who_when_before_and_after(vendor: Vendor) -> None:
    october = build_priced(vendor, finalize_october=False).october
    assert october.status == Invoice.Status.DRAFT

    response = login(vendor.admin).post(f"/invoices/{october.pk}/finalize/")
    assert response.status_code == 302
    october.refresh_from_db()
    assert october.status == Invoice.Status.FINALIZED

    finalized = [e for e in _events(vendor, "invoice") if (e.pgh_diff or {}).get("status")]
    assert [e.pgh_diff["status"] for e in finalized] == [["draft", "finalized"]]
    assert finalized[0].pgh_diff["number"][0] is None
    assert finalized[0].pgh_context["username"] == vendor.admin.username


def test_the_page_shows_the_organizations_changes_filtered_by_type(vendor: Vendor) -> None:
    api_key = ApiKey.objects.get(organization=vendor.organization)
    client = login(vendor.admin)
    client.post(f"/settings/api-keys/{api_key.pk}/revoke/")

    page = client.get("/settings/audit/", {"object_type": "api_key"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "revoked_at" in body and vendor.admin.username in body

    assert "revoked_at" not in client.get("/settings/audit/", {"object_type": "invoice"}).content.decode()
    assert "revoked_at" not in client.get("/settings/audit/", {"day_to": "2000-01-01"}).content.decode()
    assert client.get("/settings/audit/", {"day_to": "9999-12-31", "day_from": "nonsense"}).status_code == 200


def test_a_vendor_admin_of_another_organization_sees_none_of_it(vendor: Vendor, stranger: Vendor) -> None:
    build_priced(vendor, finalize_october=True)
    api_key = ApiKey.objects.get(organization=vendor.organization)
    login(vendor.admin).post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert len(audit_event_list(organization=vendor.organization)) > 5

    assert list(audit_event_list(organization=stranger.organization).exclude(
        pgh_obj_model="accounts.User").exclude(pgh_obj_model="accounts.ApiKey")) == []
    mine = {(e.pgh_obj_model, e.pgh_obj_id) for e in audit_event_list(organization=stranger.organization)}
    assert mine == {("accounts.User", str(stranger.admin.pk)),
                    ("accounts.ApiKey", str(ApiKey.objects.get(organization=stranger.organization).pk))}
    body = login(stranger.admin).get("/settings/audit/").content.decode()
    assert api_key.prefix not in body and "revoked_at" not in body and vendor.admin.username not in body


@pytest.mark.parametrize("persona", ["finance_user", "vendor_member"])
def test_customer_users_and_vendor_members_cannot_open_the_page(
    vendor: Vendor, persona: str, request: pytest.FixtureRequest
) -> None:
    role = User.Role.CUSTOMER_FINANCE if persona == "finance_user" else User.Role.VENDOR_MEMBER
    user = UserFactory.create(organization=vendor.organization, role=role, username=persona,
                              customer=vendor.customer if persona == "finance_user" else None)
    assert login(user).get("/settings/audit/").status_code == 403
    assert Client().get("/settings/audit/").status_code == 302


def test_every_audited_type_has_its_triggers_installed(db: None) -> None:
    from django.db import connection

    from audit.triggers import audit_triggers

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgtrigger_audit_%'")
        (installed,) = cursor.fetchone()
    assert installed == len(audit_triggers()) == 30


