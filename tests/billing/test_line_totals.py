"""The invoice totals kept by the line trigger (billing 0012) and the itemization read through them.

Lines are written here the way nothing in the product writes them (several statements, partial deletes,
updates, interleaved sections), so each of the trigger's paths is held to a plain GROUP BY of the lines,
and every page of the sectioned itemization to a plain sort of them."""

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Invoice, InvoiceLine, InvoiceLineGroup, InvoiceTaskTotal
from billing.selectors.invoices import SECTION_INVOICE, SECTION_PERIOD, SECTION_PRIOR, invoice_line_list_by_section
from tests.billing import reference
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db

PERIOD = date(2026, 10, 1)
KINDS = [InvoiceLine.Kind.OUTCOME, InvoiceLine.Kind.OUTCOME, InvoiceLine.Kind.OUTCOME, InvoiceLine.Kind.CREDIT,
         InvoiceLine.Kind.USAGE_OVERAGE, InvoiceLine.Kind.PLATFORM_FEE, InvoiceLine.Kind.PREPAID]
NOTES = ["", "included", "tier 2", "package 1", "package 2", "volume tier 1"]


def _draft(vendor: Vendor) -> Invoice:
    return Invoice.objects.create(organization=vendor.organization, customer=vendor.customer, period_start=PERIOD,
                                  period_end=date(2026, 11, 1), currency="USD", cutoff="2026-11-02T00:00:00Z")


def _lines(vendor: Vendor, invoice: Invoice, positions: list[int], rng: random.Random) -> list[InvoiceLine]:
    types = [OutcomeTypeFactory.create(organization=vendor.organization, code=f"t{i}") for i in range(2)]
    lines = []
    for position in positions:
        kind = rng.choice(KINDS)
        outcome = kind in (InvoiceLine.Kind.OUTCOME, InvoiceLine.Kind.CREDIT)
        lines.append(InvoiceLine(
            organization=vendor.organization, invoice=invoice, position=position, kind=kind,
            task_id=f"task-{rng.randrange(6)}" if outcome else None,
            outcome_type=rng.choice(types) if outcome else None,
            service_period_start=rng.choice([PERIOD, date(2026, 9, 1), date(2026, 8, 1)]),
            description=f"line {rng.randrange(100)}", quantity=Decimal(rng.randrange(1, 4)),
            unit_price=rng.choice([Decimal("0.99"), Decimal("0.79")]), amount=Decimal(rng.randrange(-50, 500)) / 100,
            cost=rng.choice([None, Decimal("0.0123"), Decimal("0.5")]), cost_currency="USD",
            note=rng.choice(NOTES),
        ))
    return lines


def _assert_totals_are_the_lines(invoice: Invoice) -> None:
    ids = [invoice.pk]
    assert reference.line_groups_stored(ids) == reference.line_groups_from_lines(ids)
    assert reference.task_totals_stored(ids) == reference.task_totals_from_lines(ids)


@pytest.mark.parametrize("seed", range(4))
def test_totals_follow_every_kind_of_write(vendor: Vendor, seed: int) -> None:
    rng = random.Random(seed)
    invoice = _draft(vendor)
    lines = _lines(vendor, invoice, rng.sample(range(1, 400), 120), rng)
    InvoiceLine.objects.bulk_create(lines[:60])  # into an invoice without totals: summed from the new lines
    _assert_totals_are_the_lines(invoice)
    assert InvoiceLineGroup.objects.filter(invoice=invoice).exists()
    InvoiceLine.objects.bulk_create(lines[60:])  # beside existing lines: the invoice is summed again
    _assert_totals_are_the_lines(invoice)
    InvoiceLine.objects.filter(invoice=invoice, position__lt=150).delete()  # some of its lines go
    _assert_totals_are_the_lines(invoice)
    InvoiceLine.objects.filter(invoice=invoice, kind=InvoiceLine.Kind.OUTCOME).update(
        amount=Decimal("1.25"), note="package 9", cost=Decimal("2"))
    _assert_totals_are_the_lines(invoice)
    with connection.cursor() as cursor:  # all of them go, as a reconciliation deletes them
        cursor.execute("DELETE FROM billing_invoiceline WHERE invoice_id = %s", [invoice.pk])
    assert not InvoiceLineGroup.objects.filter(invoice=invoice).exists()
    assert not InvoiceTaskTotal.objects.filter(invoice=invoice).exists()


def test_totals_are_per_invoice(vendor: Vendor, stranger: Vendor) -> None:
    rng = random.Random(7)
    mine, theirs = _draft(vendor), _draft(stranger)
    InvoiceLine.objects.bulk_create(_lines(vendor, mine, list(range(1, 40)), rng)
                                    + _lines(stranger, theirs, list(range(1, 30)), rng))
    assert sum(InvoiceLineGroup.objects.filter(invoice=mine).values_list("line_count", flat=True)) == 39
    assert sum(InvoiceLineGroup.objects.filter(invoice=theirs).values_list("line_count", flat=True)) == 29
    assert set(InvoiceLineGroup.objects.filter(invoice=theirs).values_list("organization_id", flat=True)) == {
        stranger.organization.pk}
    _assert_totals_are_the_lines(mine)
    _assert_totals_are_the_lines(theirs)


def _page_order(invoice: Invoice) -> list[int]:
    """The page's order as a plain sort of every line: section, service period, position."""
    wide = {InvoiceLine.Kind.MINIMUM_COMMIT, InvoiceLine.Kind.PLATFORM_FEE, InvoiceLine.Kind.PREPAID}

    def key(line: InvoiceLine) -> tuple[int, date, int]:
        section = SECTION_INVOICE if line.kind in wide else (
            SECTION_PRIOR if line.service_period_start < invoice.period_start else SECTION_PERIOD)
        return section, line.service_period_start, line.position

    return [line.pk for line in sorted(InvoiceLine.objects.filter(invoice=invoice), key=key)]


@pytest.mark.parametrize("seed", range(3))
def test_itemization_slices_are_the_sorted_lines(vendor: Vendor, seed: int) -> None:
    rng = random.Random(seed)
    invoice = _draft(vendor)
    InvoiceLine.objects.bulk_create(_lines(vendor, invoice, rng.sample(range(1, 1000), 230), rng))
    expected = _page_order(invoice)
    lines = invoice_line_list_by_section(invoice=invoice)
    assert len(lines) == 230
    for start in (0, 1, 37, 100, 199, 229, 230):
        for size in (1, 25, 100):
            got = lines[start:start + size]
            assert [line.pk for line in got] == expected[start:start + size], (start, size)
    assert lines[57].pk == expected[57]
    section = next(line.section for line in lines[0:230] if line.kind == InvoiceLine.Kind.PLATFORM_FEE)  # type: ignore[attr-defined]
    assert section == SECTION_INVOICE
