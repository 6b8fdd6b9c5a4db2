"""Invoice and ROI exports: CSV for spreadsheets, PDF for the accounts-payable inbox."""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from fpdf import FPDF

from billing.models import Invoice, InvoiceLine
from config.money import round_money

# Spreadsheets run a cell starting with one of these as a formula; task ids and descriptions come
# from the vendor's systems, so text cells are defused with a leading apostrophe (OWASP's advice).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_bytes(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    # The BOM makes Excel read the file as UTF-8 (customer names are not all ASCII).
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def invoice_csv_header(*, sees_cost: bool) -> list[str]:
    header = [
        "invoice",
        "customer",
        "period",
        "status",
        "position",
        "kind",
        "task_id",
        "outcome",
        "outcome_event",
        "service_period",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "currency",
    ]
    return header + (["cost_to_serve", "cost_currency"] if sees_cost else [])


def invoice_csv_rows(
    invoice: Invoice, lines: Iterable[InvoiceLine], *, sees_cost: bool
) -> Iterable[list[Any]]:
    for line in lines:
        row = [
            invoice.number or f"draft-{invoice.pk}",
            invoice.customer.external_id,
            invoice.period,
            invoice.status,
            line.position,
            line.kind,
            line.task_id,
            line.outcome_type.code if line.outcome_type else None,
            line.outcome_event.idempotency_key if line.outcome_event else None,
            line.service_period_start.strftime("%Y-%m"),
            line.description,
            _plain(line.quantity),
            _plain(line.unit_price),
            line.amount,
            invoice.currency,
        ]
        if sees_cost:
            row += [_plain(line.cost) if line.cost is not None else None, line.cost_currency]
        yield row


def _plain(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 1.000000 → 1, 0.990000 → 0.99."""
    text = f"{value.normalize():f}"
    return text


def _latin1(text: object) -> str:
    # The PDF's built-in fonts are Latin-1; characters outside it print as '?' rather than failing.
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):,} {currency}"


class _InvoicePdf(FPDF):
    columns = (
        ("#", 10, "R"),
        ("Task", 40, "L"),
        ("Outcome", 36, "L"),
        ("Description", 50, "L"),
        ("Qty", 14, "R"),
        ("Unit price", 20, "R"),
        ("Amount", 20, "R"),
    )

    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc_title = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(title)
        self.set_creator("Tally")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110, 117, 133)
        self.cell(0, 6, _latin1(f"{self.doc_title} · page {self.page_no()}/{{nb}}"), align="C")

    def table_header(self) -> None:
        self.set_font("Helvetica", style="B", size=8)
        self.set_fill_color(244, 246, 250)
        for title, width, align in self.columns:
            self.cell(width, 7, title, border="B", align=align, fill=True)
        self.ln()
        self.set_font("Helvetica", size=8)


def invoice_pdf(invoice: Invoice, lines: Iterable[InvoiceLine]) -> bytes:
    """The customer-facing invoice: no cost to serve, whoever downloads it."""
    number = invoice.number or "DRAFT"
    pdf = _InvoicePdf(f"Invoice {number}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.cell(0, 10, _latin1(f"Invoice {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    details = [
        ("From", invoice.organization.name),
        ("Bill to", f"{invoice.customer.name} ({invoice.customer.external_id})"),
        ("Period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} (exclusive)"),
        ("Status", invoice.status + ("" if invoice.is_frozen else " - amounts may change until finalized")),
        ("Issued", f"{invoice.finalized_at:%Y-%m-%d}" if invoice.finalized_at else "not yet"),
        ("Currency", invoice.currency),
    ]
    for label, value in details:
        pdf.set_text_color(110, 117, 133)
        pdf.cell(28, 6, label)
        pdf.set_text_color(29, 35, 48)
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.table_header()
    for line in lines:
        if pdf.will_page_break(6):
            pdf.add_page()
            pdf.table_header()
        cells = (
            str(line.position),
            line.task_id or "-",
            line.outcome_type.code if line.outcome_type else line.kind,
            line.description,
            _plain(line.quantity),
            _plain(line.unit_price),
            _money(line.amount, invoice.currency),
        )
        for (_, width, align), text in zip(pdf.columns, cells, strict=True):
            pdf.cell(width, 6, _fit(pdf, _latin1(text), width), border="B", align=align)
        pdf.ln()
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=10)
    for label, amount in (("Subtotal", invoice.subtotal), ("Total", invoice.total)):
        pdf.cell(150, 7, label, align="R")
        pdf.cell(40, 7, _money(amount, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut text to its column with an ellipsis so a long task id never overprints the next column."""
    limit = width - 2
    if pdf.get_string_width(text) <= limit:
        return text
    while text and pdf.get_string_width(text + "...") > limit:
        text = text[:-1]
    return text + "..."
