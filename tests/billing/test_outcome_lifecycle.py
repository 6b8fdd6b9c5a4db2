"""Reversals, disputes, finalization, late events and credits, through the real services."""

from decimal import Decimal

import pytest

from accounts.models import Organization
from billing.models import CreditNote, Invoice, InvoiceLine
from billing.services.finalize import invoice_finalize, invoice_void
from outcomes.models import OutcomeEvent, OutcomeTransition
from outcomes.services import dispute_resolve, outcome_event_dispute, outcome_event_reverse
from tests.billing.scenario import NOVEMBER, OCTOBER, at, line_tuples, outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed_vendor(vendor):
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    return vendor


def statuses(keys: list[str]) -> list[str]:
    return [OutcomeEvent.objects.get(idempotency_key=key).status for key in keys]


def test_reversal_before_finalization_is_never_billed(billed_vendor) -> None:
    vendor = billed_vendor
    assert reconcile(vendor.customer).total == Decimal("6.00")
    outcome_event_reverse(organization=vendor.organization, idempotency_key="o1", reason="reopened")

    invoice = invoice_finalize(invoice=reconcile(vendor.customer))
    assert invoice.total == Decimal("4.00")
    assert statuses(["o0", "o1", "o2"]) == ["billed", "reversed", "billed"]
    november = reconcile(vendor.customer, NOVEMBER)
    assert november.lines.count() == 0, "a reversal before billing leaves nothing to credit"


def test_reversal_after_finalization_is_credited_on_the_next_invoice(billed_vendor) -> None:
    vendor = billed_vendor
    october = invoice_finalize(invoice=reconcile(vendor.customer))
    frozen = line_tuples(october)
    outcome_event_reverse(organization=vendor.organization, idempotency_key="o2", reason="reopened")

    november = reconcile(vendor.customer, NOVEMBER)
    credit = november.lines.get()
    assert credit.credited_line is not None
    assert (credit.kind, credit.amount, credit.credited_line.invoice_id) == ("credit", Decimal("-2.00"), october.pk)
    assert credit.service_period_start == OCTOBER.start
    assert november.total == Decimal("-2.00")
    assert line_tuples(Invoice.objects.get(pk=october.pk)) == frozen

    invoice_finalize(invoice=november)
    assert statuses(["o2"]) == ["credited"]
    assert reconcile(vendor.customer, NOVEMBER.next()).lines.count() == 0, "credited once, not twice"


def test_reversal_after_finalization_becomes_a_credit_note_when_the_vendor_chooses(billed_vendor) -> None:
    vendor = billed_vendor
    Organization.objects.filter(pk=vendor.organization.pk).update(reversal_credit_mode="credit_note")
    october = invoice_finalize(invoice=reconcile(vendor.customer))
    outcome_event_reverse(organization=vendor.organization, idempotency_key="o0", reason="reopened")

    november = reconcile(vendor.customer, NOVEMBER)
    assert november.lines.count() == 0
    note = CreditNote.objects.get()
    assert (note.invoice_id, note.total, note.number) == (october.pk, Decimal("2.00"), "CN-000001")
    assert statuses(["o0"]) == ["credited"]
    reconcile(vendor.customer, NOVEMBER)
    assert CreditNote.objects.count() == 1


def test_disputed_outcome_is_held_until_the_vendor_rejects_it(billed_vendor, finance_user) -> None:
    vendor = billed_vendor
    dispute = outcome_event_dispute(organization=vendor.organization, idempotency_key="o0", reason="not resolved",
                                    actor_user=finance_user)
    assert reconcile(vendor.customer).total == Decimal("4.00")

    dispute_resolve(organization=vendor.organization, dispute_id=dispute.pk, accept=False, note="resolved per logs",
                    actor_user=vendor.admin)
    assert reconcile(vendor.customer).total == Decimal("6.00")
    history = list(OutcomeTransition.objects.filter(outcome_event__idempotency_key="o0")
                   .order_by("pk").values_list("to_status", "actor_user__username"))
    assert history == [("disputed", "acme-finance"), ("pending", "vendor-admin")]


def test_accepted_dispute_is_never_billed(billed_vendor, finance_user) -> None:
    vendor = billed_vendor
    dispute = outcome_event_dispute(organization=vendor.organization, idempotency_key="o0", reason="duplicate",
                                    actor_user=finance_user)
    dispute_resolve(organization=vendor.organization, dispute_id=dispute.pk, accept=True, note="agreed")
    invoice = invoice_finalize(invoice=reconcile(vendor.customer))
    assert invoice.total == Decimal("4.00")
    assert reconcile(vendor.customer, NOVEMBER).lines.count() == 0


def test_dispute_accepted_after_billing_is_credited(billed_vendor, finance_user) -> None:
    vendor = billed_vendor
    invoice_finalize(invoice=reconcile(vendor.customer))
    dispute = outcome_event_dispute(organization=vendor.organization, idempotency_key="o1", reason="wrong",
                                    actor_user=finance_user)
    dispute_resolve(organization=vendor.organization, dispute_id=dispute.pk, accept=True, note="refund")
    november = reconcile(vendor.customer, NOVEMBER)
    assert [(line.kind, line.amount) for line in november.lines.all()] == [("credit", Decimal("-2.00"))]


def test_finalized_invoice_is_unchanged_by_late_events(billed_vendor) -> None:
    vendor = billed_vendor
    october = invoice_finalize(invoice=reconcile(vendor.customer))
    frozen = (line_tuples(october), october.total, october.number)

    late = [{"idempotency_key": "late", "customer": "acme", "outcome": "ticket_resolved", "task_id": "late-task",
             "timestamp": at(30)}]
    assert post_outcomes(vendor.organization, late)["accepted"] == 1
    assert reconcile(vendor.customer).pk == october.pk
    october.refresh_from_db()
    assert (line_tuples(october), october.total, october.number) == frozen

    november = reconcile(vendor.customer, NOVEMBER)
    line = november.lines.get()
    assert (line.task_id, line.service_period_start, line.amount) == ("late-task", OCTOBER.start, Decimal("2.00"))
    assert line.description.startswith("Prior period 2026-10")


def test_late_outcome_lands_on_the_earliest_draft_only(billed_vendor) -> None:
    vendor = billed_vendor
    invoice_finalize(invoice=reconcile(vendor.customer))
    reconcile(vendor.customer, NOVEMBER)
    post_outcomes(vendor.organization, [{"idempotency_key": "late", "customer": "acme", "outcome": "ticket_resolved",
                                         "task_id": "late-task", "timestamp": at(30)}])
    assert reconcile(vendor.customer, NOVEMBER).lines.count() == 1
    assert reconcile(vendor.customer, NOVEMBER.next()).lines.count() == 0, "never on two drafts at once"


def test_finalized_lines_are_frozen_in_the_database(billed_vendor) -> None:
    from django.db import DatabaseError, transaction

    october = invoice_finalize(invoice=reconcile(billed_vendor.customer))
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceLine.objects.filter(invoice=october).update(amount=Decimal("0.01"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=october.pk).update(total=Decimal("1"))
    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceLine.objects.filter(invoice=october).delete()
    line = october.lines.all()[0]
    line.pk, line.position = None, 99
    with pytest.raises(DatabaseError), transaction.atomic():
        line.save()
    assert october.lines.count() == 3


def test_void_returns_outcomes_to_billing(billed_vendor) -> None:
    vendor = billed_vendor
    october = invoice_finalize(invoice=reconcile(vendor.customer))
    invoice_void(invoice=october)
    assert statuses(["o0", "o1", "o2"]) == ["verified"] * 3
    november = reconcile(vendor.customer, NOVEMBER)
    assert november.total == Decimal("6.00")
    assert {line.service_period_start for line in november.lines.all()} == {OCTOBER.start}


def test_outcome_inside_its_verification_window_waits(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.00"), verification_window_hours=24 * 365 * 5)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    assert reconcile(vendor.customer).lines.count() == 0


def test_finalizing_with_an_earlier_clock_never_drops_what_the_draft_showed(billed_vendor) -> None:
    from datetime import UTC, datetime

    draft = reconcile(billed_vendor.customer)
    invoice = invoice_finalize(invoice=draft, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert invoice.total == Decimal("6.00")
    assert invoice.lines.count() == 3
