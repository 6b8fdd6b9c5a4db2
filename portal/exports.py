"""Invoice and ROI exports as CSV for spreadsheets (the invoice PDF is billing.invoice_pdf)."""

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from billing.models import Invoice, InvoiceLine
from billing.selectors.document import InvoiceDocument, SummaryKind, price_text
from core.api.fields import decimal_str
from core.money import minor_unit
from outcomes.selectors import outcome_evidence

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
        "evidence",
    ]
    return header + (["cost_to_serve", "cost_currency"] if sees_cost else [])


def invoice_csv_rows(
    invoice: Invoice, lines: Iterable[InvoiceLine], *, sees_cost: bool
) -> Iterable[list[Any]]:
    """One row per line; money with the currency's minor units ("250.00", "3.50"), unit prices with more
    digits only where they have them ("0.0025")."""
    places = minor_unit(invoice.currency)
    for line, proof in _with_proofs(lines):
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
            price_text(line.unit_price, invoice.currency),
            f"{line.amount:.{places}f}",
            invoice.currency,
            line.note,
            _credited(line),
            proof.summary if proof else None,
        ]
        if sees_cost:
            row += [decimal_str(line.cost) if line.cost is not None else None, line.cost_currency]
        yield row


def _with_proofs(lines: Iterable[InvoiceLine], chunk: int = 2000) -> Iterator[tuple[InvoiceLine, Any]]:
    """Each line with its outcome's assurance and evidence (outcomes.selectors.outcome_evidence), read a
    chunk of lines at a time so a long invoice costs two queries per chunk, not two per line."""
    batch: list[InvoiceLine] = []
    for line in itertools.chain(lines, [None]):
        if line is not None:
            batch.append(line)
            if len(batch) < chunk:
                continue
        if batch:
            ids = [item.outcome_event_id for item in batch if item.outcome_event_id is not None]
            proofs = outcome_evidence(organization_id=batch[0].organization_id, event_ids=ids) if ids else {}
            yield from ((item, proofs.get(item.outcome_event_id or 0)) for item in batch)
            batch = []


def _credited(line: InvoiceLine) -> str | None:
    """A reversal credit names the line it reverses as INVOICE#POSITION."""
    credited = line.credited_line
    if credited is None:
        return None
    return f"{credited.invoice.number or f'draft-{credited.invoice_id}'}#{credited.position}"


def invoice_summary_csv_header() -> list[str]:
    return ["invoice", "customer", "period", "status", "kind", "description", "quantity", "unit_price", "amount",
            "currency"]


def invoice_summary_csv_rows(document: InvoiceDocument) -> Iterator[list[Any]]:
    """The summary lines, then the totals (subtotal, prepaid credits, each tax, total, paid, amount due) as
    rows of their own kind: the same figures as the invoice page, the PDF and the API."""
    invoice, currency = document.invoice, document.currency
    places = minor_unit(currency)
    head = [invoice.number or f"draft-{invoice.pk}", invoice.customer.external_id, invoice.period, invoice.status]

    def money(amount: Decimal) -> str:
        return f"{amount:.{places}f}"

    for line in document.summary:
        if line.kind == SummaryKind.PREPAID:
            continue
        yield [*head, line.kind, line.description,
               decimal_str(line.quantity) if line.quantity is not None else None,
               price_text(line.unit_price, currency) if line.unit_price is not None else None,
               money(line.amount), currency]
    yield [*head, "subtotal", "Subtotal", None, None, money(document.subtotal), currency]
    if document.prepaid:
        yield [*head, "prepaid_credit", "Prepaid credits applied", None, None, money(-document.prepaid), currency]
    for tax in document.taxes:
        yield [*head, "tax", f"{tax.label} on {money(tax.taxable_amount)}", None, None, money(tax.amount), currency]
    yield [*head, "total", "Total", None, None, money(document.total), currency]
    yield [*head, "amount_paid", "Amount paid", None, None, money(document.amount_paid), currency]
    yield [*head, "amount_due", "Amount due", None, None, money(document.amount_due), currency]
