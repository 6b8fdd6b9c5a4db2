"""The demo's Stripe: Acme AI connected to the Stripe stand-in (payments.standin, since the demo cannot reach
Stripe), its finalized unpaid invoices pushed there through the real SDK, then Stripe's side of collection
played out: the oldest is paid and its signed `invoice.paid` event moves it to paid here, the next one's
card is declined (`invoice.payment_failed`, shown on the reconciliation page), the others stay open with
their Stripe payment link.

Idempotent: invoices already pushed are left alone, and events are only sent for invoices pushed in this
run. It takes about a second. The stand-in runs in this process for the seed; `python -m payments.standin
--state .stripe-standin-<database>.json ...` (printed at the end) serves the same invoices afterwards,
whose hosted pages have a Pay button that sends the signed event to the running demo.
"""

import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import override_settings

from accounts.models import Organization
from billing.models import Invoice
from billing.selectors.invoices import invoice_list
from payments.models import InvoicePush, PushStatus
from payments.services.connect import stripe_connect
from payments.services.events import stripe_event_receive
from payments.services.push import invoice_push
from payments.standin import StripeStandIn

Write = Callable[[str], None]

# A demo account's keys (test mode), and the port the stand-in answers on, as stripe-mock's does.
DEMO_SECRET_KEY = "sk_test_tallydemo00000000000000"
DEMO_WEBHOOK_SECRET = "whsec_tallydemo000000000000000000"
STANDIN_PORT = 12111


def state_file_for_database() -> Path:
    """The stand-in's objects belong with the database whose invoices point at them (a test database has its own)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(connection.settings_dict["NAME"]))
    return Path(settings.BASE_DIR) / f".stripe-standin-{name}.json"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def payments_seed(*, organization: Organization, write: Write, base_url: str = "http://127.0.0.1:8000",
                  state_file: Path | None = None) -> None:
    state_file = state_file or state_file_for_database()
    api_base = f"http://127.0.0.1:{STANDIN_PORT}"
    standin = StripeStandIn(port=STANDIN_PORT if _port_free(STANDIN_PORT) else 0)
    # A state file next to a database without pushes is an older database's (recreated since): start afresh.
    if state_file.exists() and InvoicePush.objects.filter(organization=organization).exists():
        standin.state_load(json.loads(state_file.read_text()))
    webhook_url = f"{base_url.rstrip('/')}/webhooks/stripe/{organization.slug}"
    standin.account_add(DEMO_SECRET_KEY, name=organization.name, webhook_url=webhook_url,
                        webhook_secret=DEMO_WEBHOOK_SECRET)
    with standin, override_settings(STRIPE_API_BASE=standin.url):
        stripe_connect(organization=organization, secret_key=DEMO_SECRET_KEY, webhook_secret=DEMO_WEBHOOK_SECRET,
                       api_base=api_base)
        pushed = _push(organization)
        paid, failed = _collect(organization, standin, pushed)
        state_file.write_text(json.dumps(standin.state_dump()))
    if pushed:
        write(f"Stripe (stand-in): pushed {len(pushed)} invoices; {paid or 'none'} paid through Stripe's signed "
              f"webhook, {failed or 'none'} with a declined card.")
    write(f"  Stripe stand-in  python -m payments.standin --port {STANDIN_PORT} --state {state_file} "
          f"--key {DEMO_SECRET_KEY} --webhook {webhook_url} --secret {DEMO_WEBHOOK_SECRET}")


def _push(organization: Organization) -> list[InvoicePush]:
    """Finalized invoices with nothing paid yet and no push done: what a live Stripe would have received."""
    pushed = []
    invoices = invoice_list(organization=organization, status=Invoice.Status.FINALIZED).order_by("finalized_at", "pk")
    done = set(InvoicePush.objects.filter(organization=organization, status=PushStatus.PUSHED)
               .values_list("invoice_id", flat=True))
    for invoice in invoices:
        if invoice.pk in done or invoice.amount_paid > 0 or invoice.amount_due <= 0:
            continue  # paid by bank transfer in the demo's history, or nothing to collect
        push = invoice_push(invoice_id=invoice.pk)
        if push is not None and push.status == PushStatus.PUSHED:
            pushed.append(push)
    return pushed


def _collect(organization: Organization, standin: StripeStandIn, pushed: list[InvoicePush]) -> tuple[str, str]:
    """Stripe's side: the first invoice pushed is paid, the second's card declined; each event signed by the
    stand-in and verified by our receiver as if Stripe had posted it."""
    paid = failed = ""
    collectible = [push for push in pushed if push.remote_status == "open"]
    for push, kind in zip(collectible, ("invoice.paid", "invoice.payment_failed"), strict=False):
        remote = standin.accounts[DEMO_SECRET_KEY].objects[push.stripe_invoice_id]
        if kind == "invoice.paid":
            standin.invoice_settle(DEMO_SECRET_KEY, push.stripe_invoice_id)
            paid = push.invoice.number or ""
        else:
            remote["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                            "message": "Your card was declined."}
            failed = push.invoice.number or ""
        body, header, _ = standin.event_build(DEMO_SECRET_KEY, kind, remote)
        stripe_event_receive(organization_slug=organization.slug, payload=body, signature=header)
    return paid, failed
