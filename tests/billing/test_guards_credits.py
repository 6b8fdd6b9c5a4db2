"""An outcome is credited once, whatever the path and order; a reversal closes an open dispute and is
never undone; an invoice that was credited cannot be voided."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize, invoice_void
from core.errors import InvalidState
from outcomes.models import Dispute, OutcomeEvent
from outcomes.services import dispute_resolve, outcome_event_dispute, outcome_event_reverse
from tests.billing.scenario import NOVEMBER, outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def october(vendor):
    """Acme's October invoice, finalized: three outcomes at 2.00 (events o0, o1, o2; lines 1 to 3)."""
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    vendor.october = invoice_finalize(invoice=reconcile(vendor.customer))
    return vendor


def line_of(invoice: Invoice, key: str) -> InvoiceLine:
    return invoice.lines.get(outcome_event__idempotency_key=key)


def status(key: str) -> str:
    return OutcomeEvent.objects.get(idempotency_key=key).status


def credit_note_api(vendor, position: int):
    return vendor.api.post(f"/api/v1/invoices/{vendor.october.pk}/credit-notes",
                           {"reason": "refund", "lines": [{"line_position": position}]})


def test_a_credit_note_after_a_reversal_credited_on_the_next_draft_answers_409(october) -> None:
    line = line_of(october.october, "o1")
    reverse = october.api.post("/api/v1/outcome-events/o1/reverse", {"reason": "reopened"})
    assert reverse.status_code == 200, reverse.content
    november = reconcile(october.customer, NOVEMBER)
    assert [(credit.kind, credit.credited_line_id) for credit in november.lines.all()] == [("credit", line.pk)]

    response = credit_note_api(october, line.position)

    assert response.status_code == 409, response.content
    assert response.json()["errors"] == {"lines[0]": "That line was already credited by a credit line on the "
                                                     "draft invoice of 2026-11."}
    assert not CreditNote.objects.exists()


def test_a_credit_note_after_the_reversal_credit_was_finalized_is_refused_by_the_service(october) -> None:
    line = line_of(october.october, "o1")
    outcome_event_reverse(organization=october.organization, idempotency_key="o1", reason="reopened")
    november = invoice_finalize(invoice=reconcile(october.customer, NOVEMBER))
    assert status("o1") == "credited"

    with pytest.raises(InvalidState) as refused:
        credit_note_create(invoice=october.october, reason="refund", items=[CreditSpec(Decimal("2.00"), "x", line)])
    assert refused.value.message == f"That line was already credited by a credit line on invoice {november.number}."


def test_a_reversal_after_a_credit_note_answers_409_and_adds_no_credit_line(october) -> None:
    line = line_of(october.october, "o2")
    assert credit_note_api(october, line.position).status_code == 201
    assert status("o2") == "credited"

    response = october.api.post("/api/v1/outcome-events/o2/reverse", {"reason": "reopened"})

    assert response.status_code == 409, response.content
    assert "idempotency_key" in response.json()["errors"]
    assert reconcile(october.customer, NOVEMBER).lines.count() == 0
    assert status("o2") == "credited"


def test_a_second_credit_note_on_the_same_line_answers_409(october) -> None:
    assert credit_note_api(october, 1).status_code == 201
    again = credit_note_api(october, 1)
    assert again.status_code == 409
    assert again.json()["errors"] == {"lines[0]": "That line was already credited by credit note CN-000001."}


def test_the_database_refuses_a_credit_note_line_for_an_outcome_credited_on_a_frozen_invoice(october) -> None:
    """Past the service: a raw credit-note line for an outcome whose credit line was finalized."""
    line = line_of(october.october, "o0")
    outcome_event_reverse(organization=october.organization, idempotency_key="o0", reason="reopened")
    invoice_finalize(invoice=reconcile(october.customer, NOVEMBER))

    with pytest.raises(IntegrityError, match=f"outcome event {line.outcome_event_id} is credited twice"), \
            transaction.atomic():
        note = CreditNote.objects.create(organization=october.organization, customer=october.customer,
                                         invoice=october.october, number="CN-X", currency="USD",
                                         total=Decimal("2.00"), reason="raw")
        CreditNoteLine.objects.create(credit_note=note, outcome_event_id=line.outcome_event_id, description="raw",
                                      amount=Decimal("2.00"))


def test_the_database_refuses_to_finalize_a_draft_crediting_an_outcome_a_note_credited(october) -> None:
    """Past the service: the draft's credit line was written, then a credit note slipped in."""
    line = line_of(october.october, "o0")
    outcome_event_reverse(organization=october.organization, idempotency_key="o0", reason="reopened")
    november = reconcile(october.customer, NOVEMBER)
    note = CreditNote.objects.create(organization=october.organization, customer=october.customer,
                                     invoice=october.october, number="CN-X", currency="USD", total=Decimal("2.00"),
                                     reason="raw")
    CreditNoteLine.objects.create(credit_note=note, invoice_line=line, description="raw", amount=Decimal("2.00"))

    with pytest.raises(IntegrityError, match="credited twice"), transaction.atomic():
        Invoice.objects.filter(pk=november.pk).update(status="finalized", number="INV-X")


def test_a_reversal_closes_an_open_dispute_as_accepted(october, finance_user) -> None:
    dispute = outcome_event_dispute(organization=october.organization, idempotency_key="o1", reason="not done",
                                    actor_user=finance_user)
    response = october.api.post("/api/v1/outcome-events/o1/reverse", {"reason": "reopened"})
    assert response.status_code == 200, response.content

    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution_note) == ("accepted", "Closed by the vendor's reversal: reopened")
    assert dispute.resolved_at is not None
    assert status("o1") == "reversed"
    november = reconcile(october.customer, NOVEMBER)
    assert [(line.kind, line.amount) for line in november.lines.all()] == [("credit", Decimal("-2.00"))]
    assert october.api.post(f"/api/v1/disputes/{dispute.pk}/resolve", {"decision": "reject"}).status_code == 409


def test_a_reversal_while_disputed_before_billing_is_never_billed(vendor, finance_user) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("2.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    outcome_event_dispute(organization=vendor.organization, idempotency_key="o0", reason="not done",
                          actor_user=finance_user)
    outcome_event_reverse(organization=vendor.organization, idempotency_key="o0", reason="reopened")

    invoice = invoice_finalize(invoice=reconcile(vendor.customer))
    assert invoice.total == Decimal("2.00")
    assert status("o0") == "reversed"
    assert not Dispute.objects.filter(status="open").exists()


def test_a_dispute_left_open_on_a_reversed_outcome_can_only_be_accepted(october, finance_user) -> None:
    """Data from before reversals closed disputes: the rejection must not bring the outcome back."""
    dispute = outcome_event_dispute(organization=october.organization, idempotency_key="o1", reason="not done",
                                    actor_user=finance_user)
    OutcomeEvent.objects.filter(idempotency_key="o1").update(status="reversed", reversed_at=dispute.opened_at)

    with pytest.raises(InvalidState):
        dispute_resolve(organization=october.organization, dispute_id=dispute.pk, accept=False, note="fine")
    dispute_resolve(organization=october.organization, dispute_id=dispute.pk, accept=True, note="agreed")
    assert status("o1") == "reversed"


@pytest.mark.parametrize("to_status", ["verified", "billed", "pending", "disputed"])
def test_the_database_never_resurrects_a_reversed_outcome(october, to_status) -> None:
    outcome_event_reverse(organization=october.organization, idempotency_key="o1", reason="reopened")
    with pytest.raises(IntegrityError, match="cannot become"), transaction.atomic():
        OutcomeEvent.objects.filter(idempotency_key="o1").update(status=to_status)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE outcomes_outcomeevent SET reversed_at = NULL WHERE idempotency_key = 'o1'")
    assert status("o1") == "reversed"


def test_an_invoice_with_a_credit_note_cannot_be_voided(october) -> None:
    assert credit_note_api(october, 1).status_code == 201

    response = october.api.post(f"/api/v1/invoices/{october.october.pk}/void")

    assert response.status_code == 409
    assert response.json()["errors"] == {"credit_notes": "Invoice INV-000001 was credited (CN-000001) and cannot "
                                                         "be voided; credit its remaining amount instead."}
    assert Invoice.objects.get(pk=october.october.pk).status == "finalized"
    assert [status(key) for key in ("o0", "o1", "o2")] == ["credited", "billed", "billed"]


def test_an_invoice_credited_on_a_later_invoice_cannot_be_voided(october) -> None:
    outcome_event_reverse(organization=october.organization, idempotency_key="o1", reason="reopened")
    november = invoice_finalize(invoice=reconcile(october.customer, NOVEMBER))
    with pytest.raises(InvalidState) as refused:
        invoice_void(invoice=october.october)
    assert refused.value.field == "credit_notes"
    assert f"credit lines of {november.number}" in refused.value.message


def test_an_invoice_whose_reversal_credit_is_only_drafted_is_voided_and_the_draft_drops_the_credit(october) -> None:
    outcome_event_reverse(organization=october.organization, idempotency_key="o1", reason="reopened")
    assert reconcile(october.customer, NOVEMBER).lines.count() == 1

    invoice_void(invoice=october.october)

    november = reconcile(october.customer, NOVEMBER)
    assert sorted(november.lines.values_list("outcome_event__idempotency_key", flat=True)) == ["o0", "o2"]
    assert all(line.kind == "outcome" for line in november.lines.all())
    assert status("o1") == "reversed"
