"""The stand-in's hosted invoice page (Stripe's invoice.stripe.com): the invoice, and a Pay button that
settles it and sends the signed event to the account's webhook, so the demo shows an invoice moving to
paid from the customer's click."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from payments.standin.wire import StripeError

if TYPE_CHECKING:
    from payments.standin import StripeStandIn

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Invoice {number}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;color:#1d2330}}
.box{{border:1px solid #e4e7ec;border-radius:.5rem;padding:1.5rem}} button{{font:inherit;padding:.5rem 1.25rem;
background:#635bff;color:#fff;border:0;border-radius:.35rem;cursor:pointer}} .muted{{color:#667085}}</style></head>
<body><p class="muted">Stripe stand-in · {account}</p><div class="box"><h1>Invoice {number}</h1>
<p>{description}</p><p><strong>{remaining}</strong> {currency} due · status <strong>{status}</strong></p>
{action}</div>{message}</body></html>"""


def hosted_page(standin: StripeStandIn, method: str, path: str) -> tuple[int, bytes, dict[str, str]]:
    parts = path.strip("/").split("/")  # i/<account id>/<invoice id>[/pay]
    account = next((item for item in standin.accounts.values() if len(parts) > 2 and item.id == parts[1]), None)
    invoice = account.objects.get(parts[2]) if account is not None else None
    if account is None or invoice is None or invoice.get("object") != "invoice":
        return 404, b"No such invoice.", {"Content-Type": "text/plain"}
    message = ""
    if method == "POST" and parts[3:] == ["pay"]:
        try:
            status, answer = standin.invoice_pay(account.api_key, invoice["id"])
            message = f"Paid. The webhook answered {status}: {answer[:300].decode(errors='replace')}"
        except StripeError as exc:
            message = str(exc)
    minor = 10 ** 2 if invoice["currency"] not in {"jpy", "krw", "vnd", "clp", "isk", "ugx"} else 1
    action = ('<form method="post" action="{path}/pay"><button type="submit">Pay {amount} {currency}</button></form>'
              .format(path=escape(f"/i/{account.id}/{invoice['id']}"), amount=invoice["amount_remaining"] / minor,
                      currency=invoice["currency"].upper())) if invoice["status"] == "open" else ""
    page = _PAGE.format(
        number=escape(invoice.get("number") or invoice["id"]), account=escape(account.name),
        description=escape(invoice.get("description") or ""), remaining=f"{invoice['amount_remaining'] / minor:,.2f}",
        currency=escape(invoice["currency"].upper()), status=escape(invoice["status"]), action=action,
        message=f"<p class='muted'>{escape(message)}</p>" if message else "",
    )
    return 200, page.encode(), {"Content-Type": "text/html; charset=utf-8"}
