"""The invoice PDF, streamed: the document pages (parties, dates, summary, tax, amount due, terms) are
laid out by fpdf2; the per-task itemization follows as an appendix that is written page by page while
the lines are read, so a million-line invoice never sits in memory.

How it streams:
1. A cheap first pass lays out the appendix without drawing it: it reads each line's position and, only
   for lines whose texts could need more than one row in their column, those texts (the database
   decides which, by length), and keeps the first line of every page. So the page count is known.
2. fpdf2 renders the document pages, knowing the total page count for their "page n of m" footers, to
   a small complete PDF, sent as is.
3. The appendix pages are appended to it as an incremental update (PDF 1.3, section 7.5.6): each page's
   content stream and page object are sent as soon as its lines are read; at the end come the new page
   tree nodes, the catalog's page tree redefined to include them, and the cross-reference section for
   the new objects. What is kept in memory is the list of page starts and the byte offsets of the new
   objects (a few integers per page).

The appendix uses the PDF's built-in Helvetica (Latin-1; other characters print as "?"); the document
pages use DejaVu Sans when settings.PDF_FONT_DIR has it, so names and addresses print as written.
Nothing is truncated: a long task id or description wraps inside its column. Money prints with its
currency's minor units.
"""

import io
import logging
import re
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils.text import slugify
from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS

from billing.models import CreditNote, Invoice, InvoiceLine
from billing.selectors.document import InvoiceDocument, SummaryKind, money_text, price_text, quantity_text
from billing.selectors.invoices import credit_note_list
from core.money import minor_unit
from outcomes.selectors import outcome_types_by_id

# fontTools (fpdf2's font subsetter) logs every subset at INFO, a screenful per invoice: warnings only.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# A4 in points; the appendix geometry (all in points, y measured from the bottom as PDF does).
PAGE_W, PAGE_H = 595.28, 841.89
MARGIN = 34.0
SIZE = 7.5  # body font size
LEADING = 9.2  # one text row
PAD = 2.4  # above and below a cell's text
TOP = PAGE_H - 74.0  # where the first row starts (below the page title and the table header)
BOTTOM = 46.0  # rows stop here (the footer sits below)
HEADER_H = 14.0
# Lines are read from the database in chunks: big enough that a round trip is amortised over many
# rows, small enough that a chunk of plain tuples stays well under a megabyte.
CHUNK = 5000


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    right: bool = False


COLUMNS = (
    Column("#", 34), Column("Task", 132), Column("Item", 122), Column("Pricing", 58), Column("Period", 34),
    Column("Qty", 38, right=True), Column("Unit price", 48, right=True), Column("Amount", 61.28, right=True),
)
assert abs(sum(c.width for c in COLUMNS) - (PAGE_W - 2 * MARGIN)) < 0.01


# ---- text measuring and wrapping (Helvetica's metrics, as fpdf2 ships them) ----------------------

_WIDTHS = {False: CORE_FONTS_CHARWIDTHS["helvetica"], True: CORE_FONTS_CHARWIDTHS["helveticaB"]}
_WIDEST = max(max(_WIDTHS[False].values()), max(_WIDTHS[True].values()))


def latin1(text: str) -> str:
    """What the built-in font can print: Latin-1, with "?" for anything else and for control characters."""
    out = text.encode("latin-1", "replace").decode("latin-1")
    if out.isascii() and out.isprintable():
        return out
    return "".join(c if " " <= c < "\x7f" or c >= "\xa0" else "?" for c in out)


def text_width(text: str, size: float = SIZE, bold: bool = False) -> float:
    return sum(map(_WIDTHS[bold].get, text, repeat(600))) * size / 1000


def fits_blindly(length: int, width: float, size: float = SIZE) -> bool:
    """True when any text of `length` characters fits `width`, whatever its characters."""
    return length * _WIDEST * size / 1000 <= width - 2 * PAD


def blind_limit(width: float, size: float = SIZE) -> int:
    return int((width - 2 * PAD) * 1000 // (_WIDEST * size))


def wrap(text: str, width: float, size: float = SIZE, bold: bool = False) -> list[str]:
    """`text` in rows that each fit `width` (less the padding): breaks at spaces, and inside a word too
    long for a row (a task id), so every character is printed. Linear in the text's length."""
    if fits_blindly(len(text), width, size):
        return [text]
    room = (width - 2 * PAD) * 1000 / size  # in glyph units
    widths = _WIDTHS[bold]
    if sum(map(widths.get, text, repeat(600))) <= room:
        return [text]
    space = widths[" "]
    rows: list[str] = []
    current, used = "", 0.0
    for word in text.split(" "):
        word_width = sum(map(widths.get, word, repeat(600)))
        if current and used + space + word_width <= room:
            current, used = f"{current} {word}", used + space + word_width
            continue
        if current:
            rows.append(current)
        current, used = "", 0.0
        if word_width <= room:
            current, used = word, word_width
            continue
        start = 0  # a word wider than a row: cut it where the row is full
        for index, char in enumerate(word):
            char_width = widths.get(char, 600)
            if used + char_width > room and index > start:
                rows.append(word[start:index])
                start, used = index, 0.0
            used += char_width
        current = word[start:]
    rows.append(current)
    return rows


# ---- the appendix: rows, layout (pass 1) and drawing (pass 2) -------------------------------------


# Most cells repeat from row to row (the item, the pricing note, the period, prices and amounts): their
# texts, wraps and widths are computed once. Task ids and positions are unique and skip the caches.
_price = lru_cache(maxsize=4096)(price_text)
_quantity = lru_cache(maxsize=4096)(quantity_text)
_wrap = lru_cache(maxsize=8192)(wrap)
_width = lru_cache(maxsize=8192)(text_width)
_latin1 = lru_cache(maxsize=4096)(latin1)


@lru_cache(maxsize=512)
def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _row_cells(row: tuple[Any, ...], names: dict[int, str], currency: str) -> list[str]:
    position, task_id, kind, type_id, description, note, period, quantity, unit_price, amount = row
    item = names.get(type_id, description) if kind == InvoiceLine.Kind.OUTCOME else description
    return [
        str(position), latin1(task_id or "-"), _latin1(item or ""), _latin1(note or "-"), _month(period),
        _quantity(quantity), _price(unit_price, currency), f"{amount:,.{minor_unit(currency)}f}",
    ]


def _row_height(cells: list[str]) -> tuple[float, list[list[str]]]:
    wrapped = [wrap(cells[0], COLUMNS[0].width), wrap(cells[1], COLUMNS[1].width)]
    wrapped += [_wrap(text, column.width) for text, column in zip(cells[2:], COLUMNS[2:], strict=True)]
    return max(len(rows) for rows in wrapped) * LEADING + 2 * PAD, wrapped


@dataclass
class AppendixPlan:
    lines: int = 0
    page_starts: list[int] = field(default_factory=list)  # index (0-based, in position order) of each page's first line

    @property
    def pages(self) -> int:
        return len(self.page_starts)


_LINE_COLUMNS = ("position", "task_id", "kind", "outcome_type_id", "description", "note", "service_period_start",
                 "quantity", "unit_price", "amount")


def appendix_plan(invoice: Invoice, names: dict[int, str]) -> AppendixPlan:
    """Pass 1: the appendix's page breaks, reading texts only where a row might wrap."""
    limits = {column.title: blind_limit(column.width) for column in COLUMNS}
    long_types = [type_id for type_id, name in names.items() if len(wrap(latin1(name), COLUMNS[2].width)) > 1]
    table = InvoiceLine._meta.db_table
    # Rows that might need a second text row in some column; any other row is one text row high. Outcome
    # lines have a quantity of 1 and short numbers; fees, usage and credits are few and always measured.
    wide = (
        f"(kind <> 'outcome' OR char_length(task_id) > {limits['Task']} OR char_length(note) > {limits['Pricing']} "
        f"OR outcome_type_id = ANY(%s) OR quantity <> 1 OR abs(amount) >= 1000000 OR abs(unit_price) >= 1000 "
        f"OR position >= 10000000)"
    )
    sql = (f"SELECT {wide}, position, task_id, kind, outcome_type_id, CASE WHEN {wide} THEN description END, note, "
           f"service_period_start, quantity, unit_price, amount FROM {table} WHERE invoice_id = %s ORDER BY position")
    plan = AppendixPlan()
    used = TOP - BOTTOM  # as if a page were full: the first line opens one
    one_row = LEADING + 2 * PAD
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [long_types, long_types, invoice.pk])
        while rows := cursor.fetchmany(CHUNK):
            for row in rows:
                height = _row_height(_row_cells(row[1:], names, invoice.currency))[0] if row[0] else one_row
                if used + height > TOP - BOTTOM:
                    plan.page_starts.append(plan.lines)
                    used = 0.0
                used += height
                plan.lines += 1
    return plan


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text(x: float, y: float, text: str, font: str = "/FA", size: float = SIZE) -> str:
    return f"BT {font} {size} Tf {x:.2f} {y:.2f} Td ({_escape(text)}) Tj ET\n"


class _AppendixPage:
    def __init__(self, *, number: int, total: int, title: str, footer: str, currency: str) -> None:
        self.parts: list[str] = [
            "0.11 0.14 0.19 rg\n",
            _text(MARGIN, PAGE_H - 46, title, "/FB", 10),
            "0.957 0.965 0.98 rg\n",
            f"{MARGIN:.2f} {TOP:.2f} {PAGE_W - 2 * MARGIN:.2f} {HEADER_H:.2f} re f\n",
            "0.11 0.14 0.19 rg\n",
        ]
        x = MARGIN
        for column in COLUMNS:
            title_text = f"Amount ({currency})" if column.title == "Amount" else column.title
            tx = x + column.width - PAD - text_width(title_text, SIZE, True) if column.right else x + PAD
            self.parts.append(_text(tx, TOP + 4.4, title_text, "/FB"))
            x += column.width
        self.parts.append("0.43 0.46 0.52 rg\n")
        self.parts.append(_text(MARGIN, 24, footer, "/FA", 7))
        page_label = f"Page {number} of {total}"
        self.parts.append(_text(PAGE_W - MARGIN - text_width(page_label, 7), 24, page_label, "/FA", 7))
        self.parts.append("0.11 0.14 0.19 rg 0.85 0.87 0.9 RG 0.4 w\n")
        self.y = TOP

    def row(self, wrapped: list[list[str]], height: float) -> None:
        x = MARGIN
        parts = self.parts
        for rows, column in zip(wrapped, COLUMNS, strict=True):
            baseline = self.y - PAD - LEADING + 2.3
            for text in rows:
                tx = x + column.width - PAD - _width(text) if column.right else x + PAD
                parts.append(f"BT /FA {SIZE} Tf {tx:.2f} {baseline:.2f} Td ({_escape(text)}) Tj ET\n")
                baseline -= LEADING
            x += column.width
        self.y -= height
        parts.append(f"{MARGIN:.2f} {self.y:.2f} m {PAGE_W - MARGIN:.2f} {self.y:.2f} l S\n")

    def content(self) -> bytes:
        return zlib.compress("".join(self.parts).encode("latin-1"), 6)


# ---- the document pages (fpdf2) ---------------------------------------------------------------------


class _DocumentPdf(FPDF):
    def __init__(self, document: InvoiceDocument, *, total_pages: int | None, logo: bytes | None) -> None:
        super().__init__(orientation="portrait", unit="pt", format="A4")
        self.document = document
        self.total_pages = total_pages
        self.set_margins(MARGIN, 40, MARGIN)
        self.set_auto_page_break(auto=True, margin=60)
        self.set_title(f"Invoice {document.number}")
        self.set_creator("Tally")
        self.family = "Helvetica"
        regular, bold = (Path(settings.PDF_FONT_DIR) / name for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"))
        if regular.is_file() and bold.is_file():
            self.add_font("DejaVu", "", regular)
            self.add_font("DejaVu", "B", bold)
            self.family = "DejaVu"
        self.logo = logo

    def use(self, size: float, bold: bool = False, grey: bool = False) -> None:
        self.set_font(self.family, style="B" if bold else "", size=size)
        if grey:
            self.set_text_color(110, 117, 133)
        else:
            self.set_text_color(29, 35, 48)

    def printable(self, text: object) -> str:
        return str(text) if self.family != "Helvetica" else latin1(str(text))

    def footer(self) -> None:
        self.set_y(-44)
        self.use(7, grey=True)
        if self.document.footer:
            self.multi_cell(PAGE_W - 2 * MARGIN, 9, self.printable(self.document.footer), align="C",
                            new_x="LMARGIN", new_y="NEXT")
        self.set_y(-30)
        name = self.document.bill_to.name
        self.cell(300, 10, self.printable(f"Invoice {self.document.number} · {name}"))
        total = self.total_pages or 0
        self.cell(PAGE_W - 2 * MARGIN - 300, 10, f"Page {self.page_no()} of {total}", align="R")


def _document_pages(document: InvoiceDocument, credit_notes: list[CreditNote], *, total_pages: int | None,
                    appendix_first: int, appendix_lines: int, logo: bytes | None) -> tuple[bytes, int]:
    pdf = _DocumentPdf(document, total_pages=total_pages, logo=logo)
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN
    currency = document.currency
    money = lambda amount: money_text(amount, currency)  # noqa: E731
    top = pdf.get_y()
    if logo:
        try:
            pdf.image(io.BytesIO(logo), x=MARGIN, y=top, h=40)
        except Exception:  # a logo that is no image is left out rather than failing the invoice
            pass
    pdf.set_xy(MARGIN + width / 2, top)
    pdf.use(20, bold=True)
    pdf.cell(width / 2, 24, "INVOICE", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(MARGIN + width / 2)
    pdf.use(10)
    status = "" if document.status in ("finalized", "paid") else f" ({document.status.upper()})"
    pdf.cell(width / 2, 14, pdf.printable(f"No. {document.number}{status}"), align="R", new_x="LMARGIN", new_y="NEXT")
    if document.status == "draft":
        pdf.set_x(MARGIN + width / 2)
        pdf.use(8, grey=True)
        pdf.cell(width / 2, 11, "Draft: amounts may change until it is finalized", align="R",
                 new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 48))

    # Facts
    invoice = document.invoice
    facts = [
        ("Issue date", f"{document.issue_date:%Y-%m-%d}" if document.issue_date else "on finalization"),
        ("Due date", f"{document.due_date:%Y-%m-%d}" if document.due_date else
         f"{document.payment_terms_days} days after issue"),
        ("Payment terms", f"Net {document.payment_terms_days}"),
        ("Service period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} (exclusive)"),
        ("Price book", f"version {invoice.price_book.version}" if invoice.price_book else "default prices"),
        ("Currency", currency),
        ("Status", document.status + (" · overdue" if document.overdue else "")),
    ]
    for label, value in facts:
        pdf.use(8.5, grey=True)
        pdf.cell(90, 12, label)
        pdf.use(8.5, bold=label in ("Due date",))
        pdf.cell(width - 90, 12, pdf.printable(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    # Parties
    y0 = pdf.get_y()
    heights = []
    for index, (title, party, account) in enumerate((
        ("From", document.bill_from, ""), ("Bill to", document.bill_to, invoice.customer.external_id),
    )):
        x = MARGIN + index * width / 2
        pdf.set_xy(x, y0)
        pdf.use(8, bold=True, grey=True)
        pdf.cell(width / 2 - 10, 12, title.upper(), new_x="LEFT", new_y="NEXT")
        pdf.use(10, bold=True)
        pdf.multi_cell(width / 2 - 10, 13, pdf.printable(party.name), new_x="LEFT", new_y="NEXT")
        pdf.use(8.5)
        details = [*party.address]
        if party.tax_id:
            details.append(f"Tax ID: {party.tax_id}")
        if party.email:
            details.append(party.email)
        if account:
            details.append(f"Account: {account}")
        for text in details:
            pdf.multi_cell(width / 2 - 10, 11, pdf.printable(text), new_x="LEFT", new_y="NEXT")
        heights.append(pdf.get_y())
    pdf.set_xy(MARGIN, max(heights) + 10)

    # Summary
    widths = (width - 200, 50, 70, 80)
    pdf.use(8, bold=True)
    pdf.set_fill_color(244, 246, 250)
    for title, w, align in zip(("Summary", "Qty", "Unit price", "Amount"), widths, ("L", "R", "R", "R"), strict=True):
        pdf.cell(w, 16, title, align=align, fill=True)
    pdf.ln()
    pdf.use(8.5)
    for line in document.summary:
        if line.kind == SummaryKind.PREPAID:
            continue
        _summary_row(pdf, widths, line.description,
                     quantity_text(line.quantity) if line.quantity is not None else "",
                     price_text(line.unit_price, currency) if line.unit_price is not None else "",
                     money(line.amount))
    if not document.summary:
        _summary_row(pdf, widths, "No billable lines in this period.", "", "", money(Decimal(0)))
    pdf.ln(4)
    totals: list[tuple[str, str, bool]] = [("Subtotal", money(document.subtotal), False)]
    if document.prepaid:
        totals.append(("Prepaid credits applied", money(-document.prepaid), False))
    for tax in document.taxes:
        label = f"{tax.label} on {money(tax.taxable_amount)}"
        totals.append((label, money(tax.amount), False))
    if not document.taxes:
        totals.append(("Tax", money(Decimal(0)), False))
    totals.append(("Total", money(document.total), True))
    totals.append(("Amount paid", money(-document.amount_paid), False))
    for label, value, bold in totals:
        pdf.use(9, bold=bold)
        pdf.cell(width - 110, 14, pdf.printable(label), align="R")
        pdf.cell(110, 14, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(29, 35, 48)
    pdf.set_fill_color(244, 246, 250)
    pdf.use(12, bold=True)
    due_by = f" by {document.due_date:%Y-%m-%d}" if document.due_date and document.amount_due > 0 else ""
    pdf.cell(width - 130, 22, f"AMOUNT DUE{due_by}", align="R", border="T", fill=True)
    pdf.cell(130, 22, money(document.amount_due), align="R", border="T", fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    texts: list[tuple[str, str]] = []
    if document.tax_note:
        texts.append(("Tax", document.tax_note))
    if document.memo:
        texts.append(("Memo", document.memo))
    if document.payment_instructions:
        texts.append(("How to pay", document.payment_instructions))
    for title, text in texts:
        pdf.use(8.5, bold=True)
        pdf.cell(width, 12, title, new_x="LMARGIN", new_y="NEXT")
        pdf.use(8.5)
        pdf.multi_cell(width, 11, pdf.printable(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if document.payment_url and document.amount_due > 0:
        pdf.use(9, bold=True)
        pdf.set_text_color(37, 99, 235)
        pdf.multi_cell(width, 12, pdf.printable(f"Pay online: {document.payment_url}"), link=document.payment_url,
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if credit_notes:
        _credit_notes(pdf, credit_notes, width)
    pdf.use(8.5, grey=True)
    pdf.ln(4)
    where = (f"pages {appendix_first} to {total_pages}" if total_pages and total_pages > appendix_first
             else f"page {appendix_first}")
    pdf.multi_cell(width, 11, f"Itemization: {appendix_lines:,} lines, one per task, outcome and charge, on {where}.",
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output()), pdf.pages_count


def _summary_row(pdf: _DocumentPdf, widths: tuple[float, ...], description: str, quantity: str, unit: str,
                 amount: str) -> None:
    lines = pdf.multi_cell(widths[0], 12, pdf.printable(description), dry_run=True, output="LINES")
    rows = max(len(lines) if isinstance(lines, list) else 1, 1)
    if pdf.will_page_break(rows * 12 + 3):
        pdf.add_page()
    y = pdf.get_y()
    pdf.multi_cell(widths[0], 12, pdf.printable(description), new_x="RIGHT", new_y="TOP")
    for text, w in zip((quantity, unit, amount), widths[1:], strict=True):
        pdf.cell(w, 12, text, align="R")
    bottom = y + rows * 12
    pdf.set_draw_color(221, 225, 231)
    pdf.line(pdf.l_margin, bottom + 1, pdf.l_margin + sum(widths), bottom + 1)
    pdf.set_xy(pdf.l_margin, bottom + 3)


def _credit_notes(pdf: _DocumentPdf, credit_notes: list[CreditNote], width: float) -> None:
    pdf.ln(4)
    pdf.use(11, bold=True)
    pdf.cell(width, 16, "Credit notes", new_x="LMARGIN", new_y="NEXT")
    for note in credit_notes:
        pdf.use(8.5, bold=True)
        pdf.cell(width - 110, 12, pdf.printable(f"{note.number} · issued {note.created_at:%Y-%m-%d}"))
        pdf.cell(110, 12, money_text(-note.total, note.currency), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.use(8, grey=True)
        pdf.multi_cell(width, 10, pdf.printable(f"Reason: {note.reason}"), new_x="LMARGIN", new_y="NEXT")
        pdf.use(8)
        for note_line in note.lines.all():
            where = f"line {note_line.invoice_line.position}" if note_line.invoice_line else "amount"
            pdf.multi_cell(width - 170, 10, pdf.printable(f"{note_line.description} ({where})"), new_x="RIGHT",
                           new_y="TOP")
            pdf.cell(170, 10, money_text(-note_line.amount, note.currency), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)


# ---- the incremental update that appends the appendix ------------------------------------------------

_TRAILER = re.compile(rb"trailer\s*<<(?P<body>.*?)>>\s*startxref\s*(?P<xref>\d+)\s*%%EOF\s*$", re.S)


def _ref(body: bytes, key: bytes) -> int:
    match = re.search(rb"/" + key + rb"\s+(\d+)\s+0\s+R", body)
    if match is None:
        raise ValueError(f"no /{key.decode()} in the PDF")
    return int(match.group(1))


def _object(data: bytes, number: int) -> bytes:
    match = re.search(rb"(?:^|\n)" + str(number).encode() + rb" 0 obj\s*(.*?)\s*endobj", data, re.S)
    if match is None:
        raise ValueError(f"object {number} not found")
    return match.group(1)


class _Appender:
    """Writes new objects after `front`, remembering their offsets for the cross-reference section: the
    new objects are numbered from `first` on, their offsets kept in a compact array (8 bytes each)."""

    def __init__(self, *, offset: int, first: int) -> None:
        self.offset = offset
        self.first = self.next_number = first
        self.new_offsets = array("Q")
        self.redefined: dict[int, int] = {}  # objects of the front part written again (its page tree)

    def reserve(self) -> int:
        self.new_offsets.append(0)
        self.next_number += 1
        return self.next_number - 1

    def offset_of(self, number: int) -> int:
        return self.new_offsets[number - self.first] if number >= self.first else self.redefined[number]

    def write(self, number: int, body: bytes, stream: bytes | None = None) -> bytes:
        if number >= self.first:
            self.new_offsets[number - self.first] = self.offset
        else:
            self.redefined[number] = self.offset
        if stream is None:
            chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        else:
            chunk = b"%d 0 obj\n%s\nstream\n%s\nendstream\nendobj\n" % (number, body, stream)
        self.offset += len(chunk)
        return chunk


PAGES_PER_NODE = 256  # a balanced enough page tree: viewers find page 10,000 without reading a flat array


def invoice_pdf_stream(document: InvoiceDocument, *, logo: bytes | None = None) -> Iterator[bytes]:
    """The invoice PDF in chunks (a page of the appendix at a time), for a StreamingHttpResponse."""
    invoice = document.invoice
    names = {type_id: t.name for type_id, t in outcome_types_by_id(organization_id=invoice.organization_id).items()}
    plan = appendix_plan(invoice, names)
    credit_notes = list(credit_note_list(organization_id=invoice.organization_id, invoice=invoice))
    # The document pages are laid out twice: once to count them, once with "page n of m" known.
    _, front_pages = _document_pages(document, credit_notes, total_pages=None, appendix_first=0,
                                     appendix_lines=plan.lines, logo=logo)
    total = front_pages + plan.pages
    front, pages_again = _document_pages(document, credit_notes, total_pages=total, appendix_first=front_pages + 1,
                                         appendix_lines=plan.lines, logo=logo)
    if pages_again != front_pages:  # the page count changed the layout (it cannot, but never print a wrong m)
        total = pages_again + plan.pages
        front, _ = _document_pages(document, credit_notes, total_pages=total, appendix_first=pages_again + 1,
                                   appendix_lines=plan.lines, logo=logo)
        front_pages = pages_again
    yield front
    if not plan.pages:
        return
    trailer = _TRAILER.search(front)
    if trailer is None:
        raise ValueError("fpdf2's output has no classic trailer")
    root = _ref(trailer.group("body"), b"Root")
    info = _ref(trailer.group("body"), b"Info")
    pages_number = _ref(_object(front, root), b"Pages")
    old_kids = re.search(rb"/Kids\s*\[(.*?)\]", _object(front, pages_number), re.S)
    assert old_kids is not None
    size = int(re.search(rb"/Size\s+(\d+)", trailer.group("body")).group(1))  # type: ignore[union-attr]
    out = _Appender(offset=len(front), first=size)
    fonts = {"/FA": out.reserve(), "/FB": out.reserve()}
    yield out.write(fonts["/FA"], b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    yield out.write(fonts["/FB"], b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
                                  b"/Encoding /WinAnsiEncoding >>")
    resources = b"<< /Font << /FA %d 0 R /FB %d 0 R >> >>" % (fonts["/FA"], fonts["/FB"])
    nodes: list[tuple[int, list[int]]] = []
    # The appendix's built-in font prints Latin-1 only: a name beyond it is shown by the customer's id.
    who = document.bill_to.name if latin1(document.bill_to.name) == document.bill_to.name else \
        invoice.customer.external_id
    title = latin1(f"Itemization · Invoice {document.number} · {who} · {document.period}")
    footer = latin1(f"Invoice {document.number} · {who}")
    page: _AppendixPage | None = None
    page_index = -1
    starts = plan.page_starts
    table = InvoiceLine._meta.db_table

    def finish(page: _AppendixPage) -> Iterator[bytes]:
        if not nodes or len(nodes[-1][1]) >= PAGES_PER_NODE:
            nodes.append((out.reserve(), []))
        content = page.content()
        content_number, page_number = out.reserve(), out.reserve()
        yield out.write(content_number, b"<< /Length %d /Filter /FlateDecode >>" % len(content), content)
        yield out.write(page_number, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources %s "
                        b"/Contents %d 0 R >>" % (nodes[-1][0], PAGE_W, PAGE_H, resources, content_number))
        nodes[-1][1].append(page_number)

    index = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_LINE_COLUMNS)} FROM {table} WHERE invoice_id = %s ORDER BY position",
                       [invoice.pk])
        while rows := cursor.fetchmany(CHUNK):
            for row in rows:
                if page_index + 1 < len(starts) and index == starts[page_index + 1]:
                    if page is not None:
                        yield from finish(page)
                    page_index += 1
                    page = _AppendixPage(number=front_pages + page_index + 1, total=total, title=title,
                                         footer=footer, currency=document.currency)
                height, wrapped = _row_height(_row_cells(row, names, document.currency))
                assert page is not None
                page.row(wrapped, height)
                index += 1
    if page is not None:
        yield from finish(page)
    for node_number, kids in nodes:
        yield out.write(node_number, b"<< /Type /Pages /Parent %d 0 R /Kids [%s] /Count %d >>" % (
            pages_number, b" ".join(b"%d 0 R" % kid for kid in kids), len(kids)))
    yield out.write(pages_number, b"<< /Type /Pages /Kids [%s %s] /Count %d /MediaBox [0 0 %.2f %.2f] >>" % (
        old_kids.group(1).strip(), b" ".join(b"%d 0 R" % number for number, _ in nodes), total, PAGE_W, PAGE_H))
    xref_at = out.offset
    yield b"xref\n%d 1\n%010d 00000 n \n%d %d\n" % (pages_number, out.offset_of(pages_number), size,
                                                   out.next_number - size)
    for start in range(0, len(out.new_offsets), 4096):  # 20 bytes an entry: 80 KB at a time
        yield b"".join(b"%010d 00000 n \n" % offset for offset in out.new_offsets[start:start + 4096])
    id_match = re.search(rb"/ID\s*\[[^\]]*\]", trailer.group("body"))
    ids = id_match.group(0) if id_match else b""
    yield b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        out.next_number, root, info, int(trailer.group("xref")), ids, xref_at)


def invoice_pdf_bytes(document: InvoiceDocument, *, logo: bytes | None = None) -> bytes:
    return b"".join(invoice_pdf_stream(document, logo=logo))


def invoice_pdf_response(invoice: Invoice) -> StreamingHttpResponse:
    """The invoice PDF as a download, streamed page by page; customer-facing whoever asks (it carries no
    cost), for the portal and the API alike."""
    from billing.audience import Audience
    from billing.selectors.document import billing_profile_of, invoice_document

    document = invoice_document(invoice, audience=Audience.CUSTOMER)
    logo = bytes(billing_profile_of(invoice.organization).logo or b"") or None
    response = StreamingHttpResponse(invoice_pdf_stream(document, logo=logo), content_type="application/pdf")
    name = invoice.number or f"draft-{invoice.customer.external_id}-{invoice.period}"
    response["Content-Disposition"] = f'attachment; filename="invoice-{slugify(name)}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
