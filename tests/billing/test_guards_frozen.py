"""Finalized means frozen, proven with raw SQL: every column of a frozen invoice, only legal status
moves, its lines, credit notes and their lines, and TRUNCATE of any of them."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.models import Organization
from billing.models import CreditNote, Invoice
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize, invoice_mark_paid, invoice_void
from billing.services.price_books import EntrySpec, price_book_create
from demo.data import ORGANIZATION_SLUG
from tests.billing.scenario import NOVEMBER, OCTOBER, outcomes, post_outcomes, reconcile
from tests.factories import CustomerFactory, OrganizationFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(vendor) -> Invoice:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD",
                      entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("2.00"))])
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    return invoice_finalize(invoice=reconcile(vendor.customer))


def refused(sql: str, params: Sequence[str | int] | Mapping[str, int] | None = None) -> str:
    """Run `sql` in a savepoint; it must be refused. Returns the database's message."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
    return str(error.value)


def other_organization_ids() -> tuple[int, int]:
    other = OrganizationFactory.create(slug="other")
    return other.pk, CustomerFactory.create(organization=other).pk


@pytest.mark.parametrize("assignment", [
    "organization_id = %(organization)s", "customer_id = %(customer)s", "number = 'INV-999999'",
    "period_start = '2026-09-01'", "period_end = '2026-12-01'", "price_book_id = NULL", "currency = 'EUR'",
    "subtotal = 1", "credits_applied = 1", "total = 1", "cutoff = now()", "finalized_at = now()",
    "created_at = now()", "paid_at = now()", "voided_at = now()",
])
def test_no_column_of_a_finalized_invoice_can_change(frozen, assignment) -> None:
    organization, customer = other_organization_ids()
    message = refused(f"UPDATE billing_invoice SET {assignment} WHERE id = %(id)s",
                      {"organization": organization, "customer": customer, "id": frozen.pk})
    assert "frozen" in message
    assert Invoice.objects.get(pk=frozen.pk).number == "INV-000001"


@pytest.mark.parametrize("target", ["draft", "garbage", "PAID"])
def test_a_finalized_invoice_cannot_take_an_unknown_or_backward_status(frozen, target) -> None:
    message = refused("UPDATE billing_invoice SET status = %s WHERE id = %s", [target, frozen.pk])
    assert "cannot go from finalized" in message or "invoice_status_known" in message


def test_void_and_paid_are_final(frozen, vendor) -> None:
    invoice_void(invoice=frozen)
    for target in ["paid", "finalized", "draft"]:
        assert "cannot go from void" in refused("UPDATE billing_invoice SET status = %s WHERE id = %s",
                                                [target, frozen.pk])
    post_outcomes(vendor.organization, outcomes(vendor.customer, 1, month=11, prefix="n"))
    paid = invoice_mark_paid(invoice=invoice_finalize(invoice=reconcile(vendor.customer, NOVEMBER)))
    for target in ["void", "finalized"]:
        assert "cannot go from paid" in refused("UPDATE billing_invoice SET status = %s WHERE id = %s",
                                                [target, paid.pk])


def test_a_draft_cannot_skip_finalization_and_no_invoice_is_born_frozen(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 1))
    draft = reconcile(vendor.customer)
    for target in ["paid", "void"]:
        assert "cannot go from draft" in refused("UPDATE billing_invoice SET status = %s WHERE id = %s",
                                                 [target, draft.pk])
    assert "starts as a draft" in refused(
        "INSERT INTO billing_invoice (organization_id, customer_id, period_start, period_end, status, currency, "
        "subtotal, credits_applied, total, cutoff, created_at, updated_at) "
        "SELECT organization_id, customer_id, '2027-01-01', '2027-02-01', 'paid', currency, 0, 0, 0, now(), "
        "now(), now() FROM billing_invoice WHERE id = %s", [draft.pk])


def test_the_legal_moves_still_pass(frozen) -> None:
    assert invoice_mark_paid(invoice=frozen).status == "paid"


def test_a_finalized_invoice_and_its_lines_cannot_be_deleted(frozen) -> None:
    assert "cannot be deleted" in refused("DELETE FROM billing_invoice WHERE id = %s", [frozen.pk])
    assert "are frozen" in refused("DELETE FROM billing_invoiceline WHERE invoice_id = %s", [frozen.pk])
    assert "are frozen" in refused("UPDATE billing_invoiceline SET amount = 0 WHERE invoice_id = %s", [frozen.pk])
    assert "are frozen" in refused(
        "INSERT INTO billing_invoiceline (organization_id, invoice_id, position, kind, service_period_start, "
        "description, quantity, unit_price, amount, cost_currency, note) "
        "SELECT organization_id, id, 99, 'platform_fee', period_start, 'x', 1, 5, 5, '', '' "
        "FROM billing_invoice WHERE id = %s", [frozen.pk])
    assert frozen.lines.count() == 3


@pytest.mark.parametrize("table", ["billing_invoice", "billing_invoiceline", "billing_creditnote",
                                   "billing_creditnoteline"])
def test_truncate_is_refused(frozen, table) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL tally.allow_truncate = 'off'")  # the test runner's flush sets it on
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks to refuse it instead
    assert "cannot be truncated" in refused(f"TRUNCATE {table} CASCADE")
    assert Invoice.objects.filter(pk=frozen.pk).exists()


@pytest.fixture
def note(frozen) -> CreditNote:
    return credit_note_create(invoice=frozen, reason="refund",
                              items=[CreditSpec(Decimal("2.00"), "line 1", frozen.lines.get(position=1))])


@pytest.mark.parametrize("sql", [
    "UPDATE billing_creditnote SET total = 0.01 WHERE id = %s",
    "UPDATE billing_creditnote SET number = 'CN-000009' WHERE id = %s",
    "UPDATE billing_creditnote SET reason = 'changed' WHERE id = %s",
    "DELETE FROM billing_creditnote WHERE id = %s",
    "UPDATE billing_creditnoteline SET amount = 0.01 WHERE credit_note_id = %s",
    "DELETE FROM billing_creditnoteline WHERE credit_note_id = %s",
])
def test_an_issued_credit_note_cannot_change_or_go(note, sql) -> None:
    assert "issued documents" in refused(sql, [note.pk])
    note.refresh_from_db()
    assert (note.number, note.total, note.lines.count()) == ("CN-000001", Decimal("2.00"), 1)


def test_no_line_can_be_added_to_an_issued_credit_note(note) -> None:
    with pytest.raises(IntegrityError, match="lines sum to"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO billing_creditnoteline (credit_note_id, description, amount) "
                       "VALUES (%s, 'extra', 1)", [note.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what the commit would do


def test_the_demo_reset_still_deletes_frozen_invoices_and_credit_notes(db: None) -> None:
    call_command("seed_demo", "--tasks", "60", stdout=StringIO())
    demo = Organization.objects.get(slug=ORGANIZATION_SLUG)
    invoice = Invoice.objects.filter(organization=demo, status="finalized").first()
    assert invoice is not None
    # A line the seed's own credit note has not credited already.
    line = invoice.lines.filter(amount__gt=0, creditnoteline__isnull=True).first()
    assert line is not None
    credit_note_create(invoice=invoice, reason="refund", items=[CreditSpec(line.amount, "x", line)])

    call_command("seed_demo", "--reset", "--tasks", "60", stdout=StringIO())

    assert not CreditNote.objects.filter(invoice=invoice).exists()
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
