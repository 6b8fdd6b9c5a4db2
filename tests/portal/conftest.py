"""Portal personas and a small, real billing history built through the public API.

`acme` (the vendor's customer, with `finance_user`) and `globex` (a second customer of the same
organization, with its own finance user) each get usage and outcomes over three months, and a
billing run per month, so every page has invoices, lines, tasks and an ROI trend to show.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

import billing.tasks  # noqa: F401 - registers the tasks outcomes fire by name (a web process imports them via its URLs)
from accounts.models import Customer, User
from billing.models import Invoice
from tests.conftest import Vendor
from tests.factories import CustomerFactory, MeterFactory, OutcomeTypeFactory, RateFactory, UserFactory

PERIODS = ["2026-08", "2026-09", "2026-10"]
# A task id with a slash and a formula-like character, as real ticket systems produce.
ODD_TASK = "=zendesk/4711"


@dataclass
class Billed:
    vendor: Vendor
    acme: Customer
    globex: Customer
    invoices: dict[tuple[str, str], Invoice] = field(default_factory=dict)

    def invoice(self, customer: str, period: str) -> Invoice:
        return self.invoices[(customer, period)]


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_user() -> Callable[[User], Client]:
    return login


@pytest.fixture
def globex(vendor: Vendor) -> Customer:
    return CustomerFactory.create(organization=vendor.organization, external_id="globex", name="Globex Inc")


@pytest.fixture
def globex_finance(vendor: Vendor, globex: Customer) -> User:
    return UserFactory.create(
        organization=vendor.organization,
        customer=globex,
        role=User.Role.CUSTOMER_FINANCE,
        username="globex-finance",
    )


@pytest.fixture
def vendor_member(vendor: Vendor) -> User:
    return UserFactory.create(
        organization=vendor.organization, role=User.Role.VENDOR_MEMBER, username="vendor-member"
    )


def _post(vendor: Vendor, path: str, body: Any) -> Any:
    response = vendor.api.post(path, body)
    assert response.status_code in (200, 201, 202), (path, response.status_code, response.content[:500])
    return response.json()


def build_history(vendor: Vendor, globex: Customer, run: Callable[[], Any]) -> Billed:
    """Usage and outcomes for acme and globex over PERIODS, then a billing run per period.

    `run` wraps each billing-run request so its on-commit task executes inside the test transaction.
    """
    organization = vendor.organization
    meter = MeterFactory.create(organization=organization, code="llm_tokens", name="LLM tokens", unit="token")
    RateFactory.create(
        meter=meter,
        dimensions={"model": "gpt-4o", "direction": "input"},
        dimension_count=2,
        unit_cost=Decimal("2.50"),
    )
    RateFactory.create(
        meter=meter,
        dimensions={"model": "gpt-4o", "direction": "output"},
        dimension_count=2,
        unit_cost=Decimal("10.00"),
    )
    OutcomeTypeFactory.create(
        organization=organization,
        code="ticket_resolved",
        name="Ticket resolved",
        price=Decimal("0.99"),
        value=Decimal("6.50"),
    )
    OutcomeTypeFactory.create(
        organization=organization,
        code="code_review_completed",
        name="Code review completed",
        price=Decimal("4.00"),
        value=Decimal("25.00"),
    )
    usage: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    for month_index, period in enumerate(PERIODS):
        day = f"{period}-1{month_index}T10:00:00Z"
        acme_tasks = [f"ticket-{period}-{n}" for n in range(1, 4 + month_index)]
        if period == PERIODS[-1]:
            acme_tasks.append(ODD_TASK)
        for task in acme_tasks:
            usage.append(
                {
                    "idempotency_key": f"u-in-{task}",
                    "customer": "acme",
                    "meter": "llm_tokens",
                    "quantity": "120000",
                    "timestamp": day,
                    "task_id": task,
                    "properties": {"model": "gpt-4o", "direction": "input"},
                }
            )
            usage.append(
                {
                    "idempotency_key": f"u-out-{task}",
                    "customer": "acme",
                    "meter": "llm_tokens",
                    "quantity": "8000",
                    "timestamp": day,
                    "task_id": task,
                    "properties": {"model": "gpt-4o", "direction": "output"},
                }
            )
            outcomes.append(
                {
                    "idempotency_key": f"o-{task}",
                    "customer": "acme",
                    "outcome": "ticket_resolved",
                    "task_id": task,
                    "timestamp": day,
                }
            )
        review = f"pr-{period}"
        outcomes.append(
            {
                "idempotency_key": f"o-{review}",
                "customer": "acme",
                "outcome": "code_review_completed",
                "task_id": review,
                "timestamp": day,
            }
        )
        usage.append(
            {
                "idempotency_key": f"u-{review}",
                "customer": "acme",
                "meter": "llm_tokens",
                "quantity": "400000",
                "timestamp": day,
                "task_id": review,
                "properties": {"model": "gpt-4o", "direction": "input"},
            }
        )
        # A task that cost money and produced nothing: unbilled cost on the vendor's side.
        usage.append(
            {
                "idempotency_key": f"u-waste-{period}",
                "customer": "acme",
                "meter": "llm_tokens",
                "quantity": "50000",
                "timestamp": day,
                "task_id": f"abandoned-{period}",
                "properties": {"model": "gpt-4o", "direction": "input"},
            }
        )
        globex_task = f"globex-secret-{period}"
        usage.append(
            {
                "idempotency_key": f"u-{globex_task}",
                "customer": "globex",
                "meter": "llm_tokens",
                "quantity": "999000",
                "timestamp": day,
                "task_id": globex_task,
                "properties": {"model": "gpt-4o", "direction": "input"},
            }
        )
        outcomes.append(
            {
                "idempotency_key": f"o-{globex_task}",
                "customer": "globex",
                "outcome": "ticket_resolved",
                "task_id": globex_task,
                "timestamp": day,
            }
        )
    body = _post(vendor, "/api/v1/usage-events", {"events": usage})
    assert body["accepted"] == len(usage), body
    body = _post(vendor, "/api/v1/outcome-events", {"events": outcomes})
    assert body["accepted"] == len(outcomes), body

    billed = Billed(vendor, vendor.customer, globex)
    for period in PERIODS:
        with run():
            _post(vendor, "/api/v1/billing-runs", {"period": period})
    for invoice in Invoice.objects.filter(organization=organization).select_related("customer"):
        billed.invoices[(invoice.customer.external_id, invoice.period)] = invoice
    assert len(billed.invoices) == 2 * len(PERIODS)
    return billed


@pytest.fixture
def billed(vendor: Vendor, globex: Customer, django_capture_on_commit_callbacks: Any) -> Billed:
    return build_history(vendor, globex, lambda: django_capture_on_commit_callbacks(execute=True))


@dataclass
class Priced:
    """Acme on a price book (graduated tiers, one included outcome, platform fee, spend cap) with a
    prepaid grant: October finalized, then one October outcome reversed and one arriving late, so
    November's draft carries a reversal credit and prior-period lines."""

    vendor: Vendor
    october: Invoice
    november: Invoice


def build_priced(vendor: Vendor, *, finalize_october: bool = True) -> Priced:
    from billing.services.finalize import invoice_finalize
    from billing.services.price_books import EntrySpec, price_book_create
    from billing.services.wallet import credit_grant_create
    from outcomes.services import outcome_event_reverse
    from tests.billing.scenario import NOVEMBER, OCTOBER, outcomes, post_outcomes, reconcile

    organization, acme = vendor.organization, vendor.customer
    OutcomeTypeFactory.create(
        organization=organization, code="ticket_resolved", name="Ticket resolved", price=Decimal("1")
    )
    price_book_create(
        customer=acme,
        effective_from=OCTOBER,
        currency="USD",
        entries=[
            EntrySpec(
                outcome="ticket_resolved",
                model="graduated",
                tiers=[{"up_to": 3, "unit_price": "2.00"}, {"up_to": None, "unit_price": "1.50"}],
            )
        ],
        platform_fee=Decimal("10"),
        included_outcomes=1,
        spend_cap=Decimal("12"),
    )
    credit_grant_create(
        customer=acme,
        amount=Decimal("5"),
        currency="USD",
        description="Launch credit",
        granted_at=datetime(2026, 10, 1, tzinfo=UTC),
        expires_at=datetime(2027, 6, 30, tzinfo=UTC),
    )
    # 7 outcomes: 1 included, 3 at 2.00, 3 at 1.50 = 10.50 of a 12.00 cap (the 50% and 80% alerts).
    post_outcomes(organization, outcomes(acme, 7, day=5))
    october = reconcile(acme)
    if finalize_october:
        october = invoice_finalize(invoice=october)
        outcome_event_reverse(organization=organization, idempotency_key="o6", reason="ticket reopened")
        post_outcomes(organization, outcomes(acme, 1, day=20, prefix="late"))
        post_outcomes(organization, outcomes(acme, 2, day=3, month=11, prefix="n"))
    november = reconcile(acme, NOVEMBER)
    return Priced(vendor, Invoice.objects.get(pk=october.pk), november)


@pytest.fixture
def priced(vendor: Vendor) -> Priced:
    return build_priced(vendor)


@pytest.fixture
def receivables(billed: Billed) -> Billed:
    """August and September finalized for both customers, issued long enough ago to be overdue (net 30:
    August due 50 days ago, September 10 days ago); Globex paid August in full and 0.50 of September;
    October stays a draft."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.services.finalize import invoice_finalize
    from billing.services.payments import invoice_payment_record

    now = timezone.now()
    for customer in ("acme", "globex"):
        invoice_finalize(invoice=billed.invoice(customer, "2026-08"), now=now - timedelta(days=80))
        invoice_finalize(invoice=billed.invoice(customer, "2026-09"), now=now - timedelta(days=40))
    august = Invoice.objects.get(customer=billed.globex, period_start="2026-08-01")
    invoice_payment_record(invoice=august, amount=august.total, paid_at=now, source="manual", reference="aug")
    september = Invoice.objects.get(customer=billed.globex, period_start="2026-09-01")
    invoice_payment_record(invoice=september, amount=Decimal("0.50"), paid_at=now, source="manual", reference="sep")
    return billed
