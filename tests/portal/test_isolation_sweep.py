"""Tenants never meet: every API route and portal page, generated from the URL confs, asked by others.

The victim is the vendor's customer Globex: its invoices, lines, tasks, events, dispute and billing run.
Four parties ask for each of its objects by id: a stranger organization (its admin on the portal, its
key on the API), Acme's finance user and Acme's customer-scoped key (another customer of the same
vendor), and an anonymous visitor. None may get an answer that holds Globex's identifiers, none may
change anything of Globex's, and no customer may see the vendor's cost or margin.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiKey, User
from accounts.services import api_key_create
from billing.models import BillingRun, Invoice
from billing.services.finalize import invoice_finalize
from core.periods import Period
from outcomes.models import Dispute, OutcomeEvent
from outcomes.services import outcome_event_dispute
from tests.conftest import Vendor
from tests.factories import UserFactory
from tests.portal.conftest import Billed, login
from value.services.baselines import BaselineSpec, baseline_propose
from value.services.receipts import receipt_issue
from webhooks.models import WebhookDelivery
from webhooks.services.endpoints import endpoint_create
from webhooks.services.relay import outbox_relay

pytestmark = [pytest.mark.django_db]

# What a customer must never see of the vendor's economics, in any JSON answer or page.
COST_KEYS = {"cost", "cost_to_serve", "margin", "unbilled_cost", "cost_per_outcome", "cost_of_billed_tasks"}
# The admin is for ops (staff only, its own login); the schema and docs hold no tenant data.
SKIPPED_PREFIXES = ("admin/",)


@dataclass(frozen=True)
class Route:
    pattern: str  # e.g. "api/v1/invoices/<int:invoice_id>"
    name: str


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield Route(prefix + str(entry.pattern), entry.name or "")


def all_routes() -> list[Route]:
    return [route for route in _walk(get_resolver().url_patterns) if not route.pattern.startswith(SKIPPED_PREFIXES)]


@dataclass
class Victim:
    values: dict[str, str]  # URL parameter -> the id of one of Globex's objects
    secrets: list[str]  # strings that only appear in an answer about Globex


@pytest.fixture
def victim(billed: Billed) -> Victim:
    globex = billed.globex
    invoice = invoice_finalize(invoice=billed.invoices[("globex", "2026-09")])
    assert invoice.number
    line = invoice.lines.exclude(task_id=None).order_by("pk").first()
    assert line is not None and line.task_id
    outcome = OutcomeEvent.objects.get(organization=globex.organization, idempotency_key=f"o-{line.task_id}")
    dispute = outcome_event_dispute(organization=globex.organization, idempotency_key=outcome.idempotency_key,
                                    reason="globex-secret dispute")
    run = BillingRun.objects.filter(organization=globex.organization).order_by("pk").first()
    assert run is not None
    key, _ = api_key_create(organization=globex.organization, name="globex-secret-key")
    hook = endpoint_create(organization=globex.organization, url="https://93.184.215.14/globex-secret-hook",
                           events=["dispute.opened"], description="globex-secret hook")
    outbox_relay()  # the dispute above was announced: its delivery to the hook is Globex's
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    # The value app's: a baseline and a receipt of Globex's (its share token is a capability: the probe
    # carries a wrong one; tests/value shows the right one opens for whoever holds it).
    period = Period(invoice.period_start)
    baseline = baseline_propose(customer=globex, spec=BaselineSpec(
        outcome="ticket_resolved", effective_from=period, method="flat", currency="USD", flat_value=Decimal(5)))
    receipt = receipt_issue(customer_id=globex.pk, period=period)
    values = {
        "invoice_id": str(invoice.pk), "line_id": str(line.pk), "task_id": line.task_id,
        "external_id": "globex", "idempotency_key": outcome.idempotency_key, "dispute_id": str(dispute.pk),
        "run_id": str(run.pk), "api_key_id": str(key.pk),
        "baseline_id": str(baseline.pk), "receipt_id": str(receipt.pk),  # value
        "code": "no-such-source",  # a verification source's code (Globex has none)
        "organization": globex.organization.slug, "source": "no-such-source",  # signed callbacks
        "event_id": str(outcome.pk),  # the customer's confirm / reject buttons
        "endpoint_id": str(hook.pk), "delivery_id": str(delivery.pk),  # webhooks
    }
    numbers = [number for number in Invoice.objects.filter(customer=globex).values_list("number", flat=True)
               if number]
    return Victim(values=values, secrets=["globex-secret", "Globex Inc", *numbers])


def concrete(route: Route, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "idempotency_key" and "usage-events" in route.pattern:
            return f"u-{values['task_id']}"
        # A parameter no victim object names yet (a new app's route) still gets probed, with an id of nothing.
        return values.get(name, f"no-such-{name}")

    path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.pattern)
    return "/" + path.replace("^", "").replace("$", "")


@dataclass
class Party:
    name: str
    client: Client
    is_customer: bool  # a customer of the vendor: may see its own documents, never the vendor's cost


@pytest.fixture
def parties(billed: Billed, stranger: Vendor) -> list[Party]:
    vendor = billed.vendor
    acme_finance = UserFactory.create(organization=vendor.organization, customer=billed.acme,
                                      role=User.Role.CUSTOMER_FINANCE, username="acme-finance")
    _, acme_key = api_key_create(organization=vendor.organization, customer=billed.acme, name="acme",
                                 scope=ApiKey.Scope.READ)
    return [
        Party("stranger's admin", login(stranger.admin), is_customer=False),
        Party("stranger's key", Client(HTTP_AUTHORIZATION=f"Bearer {stranger.api.raw_key}"), is_customer=False),
        Party("Acme's finance user", login(acme_finance), is_customer=True),
        Party("Acme's key", Client(HTTP_AUTHORIZATION=f"Bearer {acme_key}"), is_customer=True),
        Party("anonymous", Client(), is_customer=False),
    ]


def _cost_keys_in(document: Any) -> set[str]:
    if isinstance(document, dict):
        found = {key for key in document if key in COST_KEYS}
        for child in document.values():
            found |= _cost_keys_in(child)
        return found
    if isinstance(document, list):
        return set().union(*(_cost_keys_in(child) for child in document)) if document else set()
    return set()


def _page_mentions_cost(html: bytes) -> bool:
    """Whether a page's visible text (not its styles, where "margin" is CSS) speaks of cost or margin."""
    text = re.sub(rb"(?is)<(style|script)\b.*?</\1>", b"", html)
    visible = b" ".join(re.findall(rb">([^<]+)<", text)).lower()
    return bool(re.search(rb"cost to serve|\bmargin\b|unbilled cost", visible))


def _leaks(response: Any, victim: Victim) -> list[str]:
    if response.status_code >= 300 or getattr(response, "streaming", False):
        body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else b""
    else:
        body = response.content
    text = body.decode(errors="replace")
    return [secret for secret in victim.secrets if secret in text]


def _is_refusal(response: Any) -> bool:
    if response.status_code in {401, 403, 404, 405}:
        return True
    return response.status_code == 302 and "/login/" in response.get("Location", "")


def test_no_route_shows_or_changes_another_partys_data(victim: Victim, parties: list[Party]) -> None:
    routes = all_routes()
    assert len(routes) > 50, [route.pattern for route in routes]
    before = {(invoice.pk, invoice.status, invoice.total) for invoice in Invoice.objects.filter(customer__external_id="globex")}
    dispute_before = Dispute.objects.get(pk=victim.values["dispute_id"]).status
    problems: list[str] = []
    requests = 0
    for route in routes:
        url = concrete(route, victim.values)
        for party in parties:
            for method in ("get", "post"):
                response = getattr(party.client, method)(url) if method == "get" else party.client.post(
                    url, data=json.dumps({"reason": "x", "amount": "1.00", "period": "2026-10"}),
                    content_type="application/json",
                )
                requests += 1
                where = f"{method.upper()} {url} as {party.name} -> {response.status_code}"
                leaked = _leaks(response, victim)
                if leaked:
                    problems.append(f"{where} shows {leaked}")
                names_an_object = "<" in route.pattern
                if method == "post" and names_an_object and 200 <= response.status_code < 300:
                    problems.append(f"{where}: a write on another party's object succeeded")
                if party.is_customer and response.get("Content-Type", "").startswith("application/json"):
                    try:
                        found = _cost_keys_in(json.loads(response.content or b"null"))
                    except ValueError:
                        found = set()
                    if found:
                        problems.append(f"{where} shows the vendor's {sorted(found)}")
                if names_an_object and method == "get" and not _is_refusal(response) and response.status_code < 400:
                    problems.append(f"{where}: another party's object answered instead of refused")
    print(f"isolation sweep: {len(routes)} routes, {len(parties)} parties, {requests} requests")
    after = {(invoice.pk, invoice.status, invoice.total) for invoice in Invoice.objects.filter(customer__external_id="globex")}
    assert after == before
    assert Dispute.objects.get(pk=victim.values["dispute_id"]).status == dispute_before
    assert not problems, "\n".join(problems)


def test_the_sweep_finds_the_victims_data_when_the_owner_asks(victim: Victim, billed: Billed) -> None:
    """The sweep's probes are real: the vendor itself gets Globex's identifiers back from them."""
    vendor_client = login(billed.vendor.admin)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {billed.vendor.api.raw_key}")
    invoice_url = f"/invoices/{victim.values['invoice_id']}/"
    api_url = f"/api/v1/invoices/{victim.values['invoice_id']}"
    assert _leaks(vendor_client.get(invoice_url), victim)
    assert _leaks(api.get(api_url), victim) or api.get(api_url).json()["customer"] == "globex"


def test_no_route_shows_a_customer_the_vendors_cost_of_its_own_documents(billed: Billed) -> None:
    """Acme asks about its own invoices, tasks and ROI: it gets them, without the vendor's cost or margin."""
    acme = billed.acme
    invoice = invoice_finalize(invoice=billed.invoices[("acme", "2026-09")])
    line = invoice.lines.exclude(task_id=None).order_by("pk").first()
    assert line is not None and line.task_id
    values = {
        "invoice_id": str(invoice.pk), "line_id": str(line.pk), "task_id": line.task_id, "external_id": "acme",
        "idempotency_key": f"o-{line.task_id}", "dispute_id": "0", "run_id": "0", "api_key_id": "0",
        "code": "no-such-source", "organization": acme.organization.slug, "source": "no-such-source",
    }
    finance = UserFactory.create(organization=acme.organization, customer=acme, role=User.Role.CUSTOMER_FINANCE,
                                 username="acme-finance")
    _, raw_key = api_key_create(organization=acme.organization, customer=acme, name="acme", scope=ApiKey.Scope.READ)
    customers = [login(finance), Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")]
    shown: list[str] = []
    answered = 0
    for route in all_routes():
        url = concrete(route, values)
        for client in customers:
            response = client.get(url, {"period": "2026-09"})
            if response.status_code != 200 or getattr(response, "streaming", False):
                continue
            answered += 1
            if response.get("Content-Type", "").startswith("application/json"):
                found = _cost_keys_in(response.json())
                if found:
                    shown.append(f"GET {url} shows {sorted(found)}")
            elif route.name not in {"schema", "api-docs"} and _page_mentions_cost(response.content):
                shown.append(f"GET {url} (page) mentions cost to serve or margin")
    print(f"customer's own documents: {answered} answers read")
    assert answered >= 10
    vendor_view = Client(HTTP_AUTHORIZATION=f"Bearer {billed.vendor.api.raw_key}").get(
        "/api/v1/customers/acme/roi", {"period": "2026-09"})
    assert _cost_keys_in(vendor_view.json()), "the probe must see cost where the vendor asks"
    assert _page_mentions_cost(login(billed.vendor.admin).get("/customers/acme/").content)
    assert not shown, "\n".join(shown)
