"""The Django admin shows invoices and credit notes read-only: no Save, no Delete of a frozen document,
lines paged, amounts as money; a forged POST is refused with 403, never a 400 or a 500."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CreditGrant, CreditNote, Invoice
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

LINES = 600  # above the 564 lines whose Save once failed with TooManyFieldsSent


@pytest.fixture
def superuser_client(vendor) -> Client:
    user = UserFactory.create(organization=vendor.organization, username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def big_invoice(vendor) -> Invoice:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1234.50"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, LINES))
    return invoice_finalize(invoice=reconcile(vendor.customer))


def test_a_finalized_invoice_with_many_lines_is_shown_read_only_with_its_lines_paged(superuser_client, big_invoice
                                                                                     ) -> None:
    response = superuser_client.get(reverse("admin:billing_invoice_change", args=[big_invoice.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert reverse("admin:billing_invoice_delete", args=[big_invoice.pk]) not in page
    assert "740,700.00 USD" in page  # the total, as money with its currency
    assert "1,234.50 USD" in page
    assert f"All {LINES} lines, paged" in page
    assert page.count("<tr><td>") == 20


def test_a_post_or_delete_of_a_finalized_invoice_is_refused_cleanly(superuser_client, big_invoice) -> None:
    change = reverse("admin:billing_invoice_change", args=[big_invoice.pk])
    delete = reverse("admin:billing_invoice_delete", args=[big_invoice.pk])

    assert superuser_client.post(change, {"status": "void"}).status_code == 403
    assert superuser_client.get(delete).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    big_invoice.refresh_from_db()
    assert (big_invoice.status, big_invoice.lines.count()) == ("finalized", LINES)


def test_the_invoice_lines_list_pages_a_hundred_read_only(superuser_client, big_invoice) -> None:
    url = reverse("admin:billing_invoiceline_changelist") + f"?invoice__id__exact={big_invoice.pk}&p=2"
    response = superuser_client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("1,234.50 USD") == 100
    line = big_invoice.lines.first()
    assert line is not None
    assert superuser_client.post(reverse("admin:billing_invoiceline_change", args=[line.pk]),
                                 {"amount": "0"}).status_code == 403


def test_a_credit_note_is_shown_read_only_and_cannot_be_deleted(superuser_client, big_invoice) -> None:
    note = credit_note_create(invoice=big_invoice, reason="refund",
                              items=[CreditSpec(Decimal("1234.50"), "line 1", big_invoice.lines.get(position=1))])
    change = reverse("admin:billing_creditnote_change", args=[note.pk])

    response = superuser_client.get(change)

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert "1,234.50 USD" in response.content.decode()
    assert superuser_client.post(change, {"reason": "edited"}).status_code == 403
    assert superuser_client.post(reverse("admin:billing_creditnote_delete", args=[note.pk]),
                                 {"post": "yes"}).status_code == 403
    assert CreditNote.objects.get(pk=note.pk).reason == "refund"


def test_a_draft_is_read_only_too_as_every_run_rewrites_it(superuser_client, vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    draft = reconcile(vendor.customer)
    response = superuser_client.get(reverse("admin:billing_invoice_change", args=[draft.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert superuser_client.post(reverse("admin:billing_invoice_delete", args=[draft.pk]),
                                 {"post": "yes"}).status_code == 403


def test_a_credit_grant_finer_than_the_minor_unit_is_refused_on_the_admin_form(superuser_client, vendor) -> None:
    response = superuser_client.post(reverse("admin:billing_creditgrant_add"), {
        "organization": vendor.organization.pk, "customer": vendor.customer.pk, "amount": "100.5",
        "currency": "JPY", "priority": "100", "granted_at_0": "2026-10-01", "granted_at_1": "00:00:00",
        "description": "", "entries-TOTAL_FORMS": "0", "entries-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "100.5 has more decimals than JPY&#x27;s 0." in response.content.decode()
    assert not CreditGrant.objects.exists()
