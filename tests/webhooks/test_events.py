"""Each announced change writes its event in its own transaction, through the real services."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing.models import Invoice
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize, invoice_mark_paid
from billing.services.overdue import invoices_overdue_announce
from billing.services.price_books import EntrySpec, price_book_create
from billing.services.runs import billing_run_create
from outcomes.models import OutcomeEvent
from outcomes.services import dispute_resolve, outcome_event_dispute, outcome_event_reverse, outcomes_verify_due
from tests.billing.scenario import OCTOBER, outcomes, post_outcomes, reconcile
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory
from webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db
FINALIZED_AT = datetime(2026, 11, 4, 9, tzinfo=UTC)


def announced(type: str) -> list[dict[str, Any]]:
    return [event.data for event in OutboxEvent.objects.filter(type=type).order_by("pk")]


@pytest.fixture
def priced(vendor: Vendor) -> Vendor:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    price_book_create(customer=vendor.customer, effective_from=OCTOBER, currency="USD",
                      entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("2.00"))], spend_cap=Decimal("5"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    return vendor


@pytest.fixture
def finalized(priced: Vendor) -> Invoice:
    return invoice_finalize(invoice=reconcile(priced.customer), now=FINALIZED_AT)


def test_finalizing_announces_the_invoice_as_the_customer_sees_it(finalized: Invoice, vendor: Vendor) -> None:
    [data] = announced("invoice.finalized")
    invoice = data["invoice"]
    assert invoice["id"] == finalized.pk and invoice["number"] == finalized.number
    assert invoice["customer"] == "acme" and invoice["currency"] == "USD" and invoice["status"] == "finalized"
    assert Decimal(invoice["total"]) == finalized.total and Decimal(invoice["amount_due"]) == finalized.total
    assert invoice["due_date"] == finalized.due_date.isoformat()  # type: ignore[union-attr]
    assert "cost" not in str(data) and "margin" not in str(data)
    assert OutboxEvent.objects.get(type="invoice.finalized").organization_id == vendor.organization.pk


def test_finalizing_twice_announces_once(finalized: Invoice) -> None:
    invoice_finalize(invoice=finalized)
    assert len(announced("invoice.finalized")) == 1


def test_a_finalization_that_fails_announces_nothing(priced: Vendor, monkeypatch: pytest.MonkeyPatch) -> None:
    from billing.services import finalize

    def broken(**kwargs: Any) -> str:
        raise RuntimeError("sequence unavailable")

    monkeypatch.setattr(finalize, "sequence_next", broken)
    with pytest.raises(RuntimeError):
        invoice_finalize(invoice=reconcile(priced.customer))
    assert announced("invoice.finalized") == []


def test_paying_announces_paid(finalized: Invoice) -> None:
    invoice_mark_paid(invoice=finalized)
    [data] = announced("invoice.paid")
    assert data["invoice"]["status"] == "paid" and Decimal(data["invoice"]["amount_due"]) == 0
    invoice_mark_paid(invoice=finalized)
    assert len(announced("invoice.paid")) == 1


def test_a_credit_note_is_announced(finalized: Invoice) -> None:
    note = credit_note_create(invoice=finalized, reason="goodwill", items=[CreditSpec(Decimal("1.00"), "goodwill")])
    [data] = announced("credit_note.created")
    assert data["credit_note"]["number"] == note.number and data["credit_note"]["invoice_number"] == finalized.number
    assert data["credit_note"]["total"] == "1.00" and data["credit_note"]["customer"] == "acme"


def test_overdue_is_announced_once_per_invoice(finalized: Invoice) -> None:
    assert finalized.due_date is not None
    assert invoices_overdue_announce(today=finalized.due_date) == 0  # due today is not overdue yet
    after = date.fromordinal(finalized.due_date.toordinal() + 2)
    assert invoices_overdue_announce(today=after) == 1
    assert invoices_overdue_announce(today=after) == 0
    [data] = announced("invoice.overdue")
    assert data["invoice"]["id"] == finalized.pk and data["days_overdue"] == 2


def test_a_paid_invoice_is_never_overdue(finalized: Invoice) -> None:
    invoice_mark_paid(invoice=finalized)
    assert finalized.due_date is not None
    assert invoices_overdue_announce(today=date.fromordinal(finalized.due_date.toordinal() + 2)) == 0


def test_verification_announces_each_outcome_once(priced: Vendor) -> None:
    assert outcomes_verify_due(now=datetime(2027, 1, 1, tzinfo=UTC)) == 3
    assert outcomes_verify_due(now=datetime(2027, 1, 1, tzinfo=UTC)) == 0
    verified = announced("outcome.verified")
    keys = {OutcomeEvent.objects.get(pk=d["outcome"]["id"]).idempotency_key for d in verified}
    assert keys == {"o0", "o1", "o2"} and len(verified) == 3
    assert {d["outcome"]["status"] for d in verified} == {"verified"}
    assert verified[0]["outcome"]["outcome_type"] == "ticket_resolved" and verified[0]["outcome"]["customer"] == "acme"
    first = OutcomeEvent.objects.get(pk=verified[0]["outcome"]["id"])
    assert verified[0]["outcome"]["timestamp"] == first.timestamp.isoformat()  # as the one-at-a-time path writes it
    assert verified[0]["reason"] == "verification window passed"
    ids = list(OutboxEvent.objects.filter(type="outcome.verified").values_list("event_id", flat=True))
    assert all(re.fullmatch(r"msg_[0-9a-f]{26}", event_id) for event_id in ids) and len(set(ids)) == 3


def test_reversal_and_disputes_are_announced(priced: Vendor) -> None:
    organization = priced.organization
    outcome_event_reverse(organization=organization, idempotency_key="o0", reason="ticket reopened")
    [reversed_] = announced("outcome.reversed")
    assert reversed_["outcome"]["idempotency_key"] == "o0" and reversed_["reason"] == "ticket reopened"
    dispute = outcome_event_dispute(organization=organization, idempotency_key="o1", reason="not resolved")
    [opened] = announced("dispute.opened")
    assert opened["dispute"]["id"] == dispute.pk and opened["outcome"]["idempotency_key"] == "o1"
    dispute_resolve(organization=organization, dispute_id=dispute.pk, accept=False, note="it was resolved")
    [resolved] = announced("dispute.resolved")
    assert resolved["dispute"]["status"] == "rejected" and resolved["dispute"]["resolution_note"] == "it was resolved"
    # A reversal closes an open dispute: both are announced.
    second = outcome_event_dispute(organization=organization, idempotency_key="o2", reason="duplicate")
    outcome_event_reverse(organization=organization, idempotency_key="o2", reason="conceded")
    assert [d["dispute"]["id"] for d in announced("dispute.resolved")] == [dispute.pk, second.pk]
    assert [d["outcome"]["idempotency_key"] for d in announced("outcome.reversed")] == ["o0", "o2"]


def test_spend_cap_thresholds_are_announced_once_each(priced: Vendor) -> None:
    reconcile(priced.customer)
    reconcile(priced.customer)
    thresholds = [d["threshold"] for d in announced("spend_cap.threshold_reached")]
    assert thresholds == [50, 80, 100]
    assert announced("spend_cap.threshold_reached")[0]["customer"] == "acme"


def test_a_finished_billing_run_is_announced(priced: Vendor) -> None:
    run = billing_run_create(organization=priced.organization, period=OCTOBER, inline=True)
    [data] = announced("billing_run.completed")
    assert data["billing_run"]["id"] == run.pk and data["billing_run"]["status"] == "done"
    assert data["billing_run"]["period"] == "2026-10" and data["billing_run"]["customers_done"] == 1
