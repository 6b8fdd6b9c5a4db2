"""A value receipt as PDF (fpdf2): the sealed figures, the hash, the signature and where to verify it."""

from typing import Any

from fpdf import FPDF

from value.models import ValueReceipt
from value.selectors.receipts import ReceiptCheck
from value.services.receipts import receipt_content


def _text(value: Any) -> str:
    # The core fonts speak Latin-1: anything else is replaced rather than refused.
    return str(value).encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(receipt: ValueReceipt, *, check: ReceiptCheck, share_url: str) -> bytes:
    content = receipt_content(receipt)
    figures = content["figures"]
    currency = figures["currency"]
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"Value receipt · {content['period']}".replace("·", "-")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _text(f"{content['organization']['name']} for {content['customer']['name']} "
                         f"({content['customer']['external_id']})"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _text(f"Receipt #{content['sequence']} - {content['reason']} - issued {content['issued_at']}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    widths = (60, 20, 30, 30, 50)
    for width, title in zip(widths, ("Outcome", "Count", "Unit value", "Value", "Basis"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for item in figures["outcomes"]:
        baseline = item["baseline"]
        basis = (f"baseline v{baseline['version']} ({baseline['status']})" if baseline else "vendor estimate")
        for width, value in zip(widths, (item["type"], item["count"], item["unit_value"], item["value"], basis),
                                strict=True):
            pdf.cell(width, 7, _text(value))
        pdf.ln()
    pdf.ln(3)
    for label, key in (("Value delivered", "value_delivered"), ("Billed", "billed"), ("ROI (value / billed)", "roi")):
        pdf.cell(60, 7, label)
        pdf.cell(0, 7, _text(f"{figures[key]} {currency}" if key != "roi" else (figures[key] or "-")),
                 new_x="LMARGIN", new_y="NEXT")
    invoices = ", ".join(i["number"] for i in figures["invoices"]) or "-"
    pdf.cell(0, 7, _text(f"Invoices: {invoices}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Courier", "", 8)
    for label, value in (("SHA-256", receipt.content_hash), ("Previous", receipt.previous_hash or "(first)"),
                         ("Key", receipt.signing_key.key_id), ("Public key", receipt.signing_key.public_key),
                         ("Signature", receipt.signature)):
        pdf.multi_cell(0, 4, _text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.ln(2)
    state = "verified (hash, signature and chain)" if check.ok else "DOES NOT VERIFY"
    pdf.multi_cell(0, 5, _text(f"Server check when this PDF was made: {state}. Verify it yourself at {share_url} "
                               "or offline with the JSON download (see the receipt page)."),
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
