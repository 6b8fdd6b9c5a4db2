"""Invoice CSV and PDF, ROI CSV: each export is scoped like its page and never carries the vendor's cost
to a customer."""

import csv
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import Customer
from portal.exports import csv_cell
from tests.portal.conftest import ODD_TASK, login

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    """The answer's bytes; invoice CSVs and PDFs are streamed (a million lines never sit in memory)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def _rows(response) -> list[dict[str, str]]:
    text = _body(response).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_invoice_csv_has_one_row_per_line_and_no_cost_for_the_customer(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")

    response = login(finance_user).get(reverse("portal:invoice-csv", args=[invoice.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert len(rows) == invoice.lines.count()
    assert "cost_to_serve" not in rows[0]
    assert sum(float(row["amount"]) for row in rows) == pytest.approx(float(invoice.total))
    assert {row["customer"] for row in rows} == {"acme"}


def test_vendor_invoice_csv_carries_cost(billed, vendor) -> None:
    invoice = billed.invoice("acme", "2026-10")
    rows = _rows(login(vendor.admin).get(reverse("portal:invoice-csv", args=[invoice.pk])))
    assert all(row["cost_to_serve"] for row in rows)
    assert {row["cost_currency"] for row in rows} == {"USD"}


def test_csv_defuses_spreadsheet_formulas(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    rows = _rows(login(finance_user).get(reverse("portal:invoice-csv", args=[invoice.pk])))
    assert "'" + ODD_TASK in {row["task_id"] for row in rows}
    # A negative amount (a credit) is a number, not a formula: it stays a number.
    assert csv_cell("-1.00") == "-1.00" and csv_cell("-1+1") == "'-1+1"
    assert csv_cell(-1) == -1 and csv_cell(None) == ""


def test_invoice_pdf_is_a_pdf(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    response = login(finance_user).get(reverse("portal:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    body = _body(response)
    assert body.startswith(b"%PDF-")
    assert len(body) > 1000


@pytest.mark.parametrize("name", ["portal:invoice-csv", "portal:invoice-pdf"])
@pytest.mark.parametrize("persona", ["other_customer", "stranger"])
def test_invoice_exports_outside_the_scope_are_not_found(
    billed, name, persona, globex_finance, stranger
) -> None:
    user = globex_finance if persona == "other_customer" else stranger.admin
    response = login(user).get(reverse(name, args=[billed.invoice("acme", "2026-10").pk]))
    assert response.status_code == 404


def test_customer_roi_csv_has_every_period_and_no_cost(billed, finance_user) -> None:
    rows = _rows(login(finance_user).get(reverse("portal:roi-csv")))
    assert [row["period"] for row in rows] == ["2026-10", "2026-09", "2026-08"]
    assert "cost_to_serve" not in rows[0] and "margin" not in rows[0]
    assert rows[0]["outcomes:ticket_resolved"] == "6"  # five tickets and the odd one


def test_vendor_roi_csv_has_cost_and_margin(billed, vendor) -> None:
    rows = _rows(login(vendor.admin).get(reverse("portal:customer-roi-csv", args=["globex"])))
    assert len(rows) == 3
    assert float(rows[0]["margin"]) < 0


def test_stranger_cannot_export_the_vendors_roi(billed, stranger) -> None:
    response = login(stranger.admin).get(reverse("portal:customer-roi-csv", args=["globex"]))
    assert response.status_code == 404
    own = _rows(login(stranger.admin).get(reverse("portal:customer-roi-csv", args=["acme"])))
    assert own == []  # the stranger's own "acme" has no reports; the vendor's acme never leaks


def _pdf_text(body: bytes) -> str:
    """The text of a PDF as a reader extracts it (pypdf decodes the Unicode font's glyphs too)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_csv_carries_line_kinds_pricing_notes_and_what_a_credit_reverses(priced, vendor) -> None:
    rows = _rows(login(vendor.admin).get(reverse("portal:invoice-csv", args=[priced.november.pk])))
    by_kind = {row["kind"]: row for row in rows}
    assert set(by_kind) == {"credit", "outcome", "platform_fee"}
    assert by_kind["credit"]["note"] == "reversal credit"
    assert by_kind["credit"]["credits_line"] == "INV-000001#7"
    assert by_kind["credit"]["service_period"] == "2026-10"
    assert {row["note"] for row in rows if row["kind"] == "outcome"} == {"tier 1", "tier 2", "included"}


def test_pdf_lists_kinds_notes_and_credit_notes_at_the_end(priced, finance_user) -> None:
    from decimal import Decimal

    from billing.services.credit_notes import CreditSpec, credit_note_create

    line = priced.october.lines.get(position=2)
    credit_note_create(
        invoice=priced.october,
        reason="Duplicate ticket",
        items=[CreditSpec(line.amount, "Credit: duplicate", line), CreditSpec(Decimal("1"), "Goodwill")],
    )
    response = login(finance_user).get(reverse("portal:invoice-pdf", args=[priced.october.pk]))

    text = _pdf_text(_body(response))
    for expected in (
        "Prepaid credit",
        "Platform fee",
        "tier 2",
        "included",
        "Prepaid credits applied",
        "Price book",
        "version 1",
        "Credit notes",
        "CN-000001",
        "Reason: Duplicate ticket",
        "Goodwill",
        "-3.00 USD",
    ):
        assert expected in text, expected
    assert text.index("Total") < text.index("Credit notes")


def test_pdf_prints_names_beyond_latin1_as_written(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    name = "Łódź Café — «Ωmega» “Škoda” Привет € 5"
    Customer.objects.filter(pk=invoice.customer_id).update(name=name)
    text = _pdf_text(_body(login(finance_user).get(reverse("portal:invoice-pdf", args=[invoice.pk]))))
    assert name in text


def test_pdf_without_the_unicode_font_falls_back_to_latin1(billed, finance_user, settings, tmp_path) -> None:
    settings.PDF_FONT_DIR = str(tmp_path)  # no DejaVu here: the built-in Helvetica, Latin-1 only
    invoice = billed.invoice("acme", "2026-10")
    Customer.objects.filter(pk=invoice.customer_id).update(name="Łódź Café")
    response = login(finance_user).get(reverse("portal:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert "?ód? Café" in _pdf_text(_body(response))
