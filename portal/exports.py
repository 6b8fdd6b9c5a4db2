"""Invoice and ROI exports: CSV for spreadsheets, PDF for the accounts-payable inbox."""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from fpdf import FPDF

from billing.models import CreditNote, Invoice, InvoiceLine
from core.api.fields import decimal_str
from core.money import format_money

# Spreadsheets run a cell starting with one of these as a formula; task ids and descriptions come
# from the vendor's systems, so text cells are defused with a leading apostrophe (OWASP's advice).
# A cell that is a plain number ("-0.99", a credit) is no formula and stays a number.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return "" if value is None else value


def csv_stream(header: list[str], rows: Iterable[list[Any]], rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """CSV in chunks of rows (for a StreamingHttpResponse), formula-like cells defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # the BOM makes Excel read the file as UTF-8 (customer names are not all ASCII)
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_cell(value) for value in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_bytes(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    return b"".join(csv_stream(header, rows))


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
        "note",
        "credits_line",
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
            decimal_str(line.quantity),
            decimal_str(line.unit_price),
            line.amount,
            invoice.currency,
            line.note,
            _credited(line),
        ]
        if sees_cost:
            row += [decimal_str(line.cost) if line.cost is not None else None, line.cost_currency]
        yield row


def _credited(line: InvoiceLine) -> str | None:
    """A reversal credit names the line it reverses as INVOICE#POSITION."""
    credited = line.credited_line
    if credited is None:
        return None
    return f"{credited.invoice.number or f'draft-{credited.invoice_id}'}#{credited.position}"


class _InvoicePdf(FPDF):
    columns = (
        ("#", 8, "R"),
        ("Task", 30, "L"),
        ("Kind", 26, "L"),
        ("Description", 52, "L"),
        ("Pricing", 22, "L"),
        ("Qty", 12, "R"),
        ("Unit price", 18, "R"),
        ("Amount", 22, "R"),
    )

    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc_title = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(title)
        self.set_creator("Tally")
        self.family = "Helvetica"
        regular, bold = (Path(settings.PDF_FONT_DIR) / name for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"))
        if regular.is_file() and bold.is_file():
            self.add_font("DejaVu", "", regular)
            self.add_font("DejaVu", "B", bold)
            self.family = "DejaVu"

    def use(self, *, size: float, bold: bool = False) -> None:
        self.set_font(self.family, style="B" if bold else "", size=size)

    def printable(self, text: object) -> str:
        """The text as this PDF can print it: as is with the Unicode font; with the built-in Helvetica,
        which knows Latin-1 only, other characters become "?" rather than failing."""
        if self.family != "Helvetica":
            return str(text)
        return str(text).encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.use(size=8)
        self.set_text_color(110, 117, 133)
        self.cell(0, 6, self.printable(f"{self.doc_title} · page {self.page_no()}/{{nb}}"), align="C")

    def table_header(self) -> None:
        self.use(size=8, bold=True)
        self.set_fill_color(244, 246, 250)
        for title, width, align in self.columns:
            self.cell(width, 7, title, border="B", align=align, fill=True)
        self.ln()
        self.use(size=8)


def invoice_pdf(invoice: Invoice, lines: Iterable[InvoiceLine], credit_notes: list[CreditNote]) -> bytes:
    """The customer-facing invoice: no cost to serve, whoever downloads it."""
    number = invoice.number or "DRAFT"
    pdf = _InvoicePdf(f"Invoice {number}")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.use(size=18, bold=True)
    pdf.cell(0, 10, pdf.printable(f"Invoice {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.use(size=10)
    details = [
        ("From", invoice.organization.name),
        ("Bill to", f"{invoice.customer.name} ({invoice.customer.external_id})"),
        ("Period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} (exclusive)"),
        ("Status", invoice.status + ("" if invoice.is_frozen else " - amounts may change until finalized")),
        ("Issued", f"{invoice.finalized_at:%Y-%m-%d}" if invoice.finalized_at else "not yet"),
        *([("Paid", f"{invoice.paid_at:%Y-%m-%d}")] if invoice.paid_at else []),
        *([("Voided", f"{invoice.voided_at:%Y-%m-%d}")] if invoice.voided_at else []),
        ("Price book", f"version {invoice.price_book.version}" if invoice.price_book else "default prices"),
        ("Currency", invoice.currency),
    ]
    for label, value in details:
        pdf.set_text_color(110, 117, 133)
        pdf.cell(28, 6, label)
        pdf.set_text_color(29, 35, 48)
        pdf.cell(0, 6, pdf.printable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.table_header()
    for line in lines:
        if pdf.will_page_break(6):
            pdf.add_page()
            pdf.table_header()
        cells = (
            str(line.position),
            line.task_id or "-",
            line.get_kind_display(),
            line.description,
            line.note or "-",
            decimal_str(line.quantity),
            decimal_str(line.unit_price),
            format_money(line.amount, invoice.currency),
        )
        for (_, width, align), text in zip(pdf.columns, cells, strict=True):
            pdf.cell(width, 6, _fit(pdf, pdf.printable(text), width), border="B", align=align)
        pdf.ln()
    pdf.ln(3)
    pdf.use(size=10, bold=True)
    totals = [("Subtotal", invoice.subtotal)]
    if invoice.credits_applied:
        totals.append(("Prepaid credits applied", -invoice.credits_applied))
    totals.append(("Total", invoice.total))
    for label, amount in totals:
        pdf.cell(150, 7, label, align="R")
        pdf.cell(40, 7, format_money(amount, invoice.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    if credit_notes:
        _credit_notes_section(pdf, credit_notes)
    return bytes(pdf.output())


def _credit_notes_section(pdf: _InvoicePdf, credit_notes: list[CreditNote]) -> None:
    """Credit notes against this invoice, after its totals: each with its reason and lines."""
    pdf.ln(6)
    pdf.use(size=12, bold=True)
    pdf.cell(0, 8, "Credit notes", new_x="LMARGIN", new_y="NEXT")
    for note in credit_notes:
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.use(size=9, bold=True)
        pdf.cell(150, 6, pdf.printable(f"{note.number} · issued {note.created_at:%Y-%m-%d}"))
        pdf.cell(40, 6, format_money(-note.total, note.currency), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.use(size=8)
        pdf.set_text_color(110, 117, 133)
        pdf.multi_cell(0, 5, pdf.printable(f"Reason: {note.reason}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(29, 35, 48)
        for note_line in note.lines.all():
            if pdf.will_page_break(6):
                pdf.add_page()
            where = f"line {note_line.invoice_line.position}" if note_line.invoice_line else "amount"
            pdf.cell(12, 5, "")
            pdf.cell(118, 5, _fit(pdf, pdf.printable(note_line.description), 118))
            pdf.cell(20, 5, where)
            pdf.cell(
                40, 5, format_money(-note_line.amount, note.currency), align="R", new_x="LMARGIN", new_y="NEXT"
            )
        pdf.ln(2)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut text to its column with an ellipsis so a long task id never overprints the next column."""
    limit = width - 2
    if pdf.get_string_width(text) <= limit:
        return text
    while text and pdf.get_string_width(text + "...") > limit:
        text = text[:-1]
    return text + "..."
