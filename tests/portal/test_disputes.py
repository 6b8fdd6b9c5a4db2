"""Disputing an outcome line from the portal. The dispute service belongs to the outcomes app: here it
is either absent (the form is hidden) or replaced by a recorder, so these tests pin the portal's side."""

from typing import Any

import pytest
from django.urls import reverse

from core.errors import InvalidState
from portal.views import tasks as task_views
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db

TASK = "ticket-2026-10-1"


class RecordingService:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.error:
            raise self.error


@pytest.fixture
def service(monkeypatch) -> RecordingService:
    recorder = RecordingService()
    monkeypatch.setattr(task_views, "outcome_event_dispute", recorder)
    return recorder


def _line(billed):
    invoice = billed.invoice("acme", "2026-10")
    return invoice, invoice.lines.get(task_id=TASK)


def test_finance_user_disputes_a_line_with_a_reason(billed, finance_user, service) -> None:
    invoice, line = _line(billed)
    client = login(finance_user)
    page = client.get(reverse("portal:task-detail", args=[invoice.pk, TASK]))
    assert b"Dispute this outcome" in page.content

    response = client.post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]),
        {"reason": "The ticket was reopened by the customer", "next": f"/invoices/{invoice.pk}/"},
        follow=True,
    )

    assert service.calls == [
        {
            "organization": billed.vendor.organization,
            "idempotency_key": f"o-{TASK}",
            "reason": "The ticket was reopened by the customer",
            "actor_user": finance_user,
            "actor_label": f"portal:{finance_user.username}",
            "customer_id": finance_user.customer_id,
        }
    ]
    assert response.redirect_chain[-1][0] == f"/invoices/{invoice.pk}/"
    assert b"Dispute recorded" in response.content


def test_a_dispute_needs_a_reason(billed, finance_user, service) -> None:
    invoice, line = _line(billed)
    response = login(finance_user).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]), {"reason": " "}, follow=True
    )
    assert service.calls == []
    assert b"give a reason" in response.content


def test_a_refused_dispute_shows_the_services_message(billed, finance_user, monkeypatch) -> None:
    monkeypatch.setattr(
        task_views, "outcome_event_dispute", RecordingService(InvalidState("The dispute window has closed."))
    )
    invoice, line = _line(billed)
    response = login(finance_user).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]), {"reason": "Not ours"}, follow=True
    )
    assert b"The dispute window has closed." in response.content


def test_an_offsite_next_is_ignored(billed, finance_user, service) -> None:
    invoice, line = _line(billed)
    response = login(finance_user).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]),
        {"reason": "Not ours at all", "next": "https://evil.example/phish"},
    )
    assert response["Location"] == reverse("portal:task-detail", args=[invoice.pk, TASK])


def test_vendor_users_do_not_dispute(billed, vendor, service) -> None:
    invoice, line = _line(billed)
    response = login(vendor.admin).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]), {"reason": "x" * 9}
    )
    assert response.status_code == 403
    assert service.calls == []


@pytest.mark.parametrize("persona", ["other_customer", "stranger"])
def test_a_line_outside_the_scope_cannot_be_disputed(
    billed, persona, globex_finance, stranger, service
) -> None:
    user = globex_finance if persona == "other_customer" else stranger.admin
    invoice, line = _line(billed)
    response = login(user).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]), {"reason": "x" * 9}
    )
    assert response.status_code in (403, 404)  # the stranger is a vendor elsewhere: refused before any lookup
    assert service.calls == []


def test_a_line_of_another_invoice_is_not_found(billed, finance_user, service) -> None:
    own = billed.invoice("acme", "2026-10")
    foreign_line = billed.invoice("globex", "2026-10").lines.first()
    response = login(finance_user).post(
        reverse("portal:line-dispute", args=[own.pk, foreign_line.pk]), {"reason": "x" * 9}
    )
    assert response.status_code == 404
    assert service.calls == []


def test_posting_needs_the_csrf_token(billed, finance_user, service) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(finance_user)
    invoice, line = _line(billed)
    response = client.post(reverse("portal:line-dispute", args=[invoice.pk, line.pk]), {"reason": "x" * 9})
    assert response.status_code == 403
    assert service.calls == []


def test_dispute_through_the_real_service_holds_the_outcome(billed, finance_user) -> None:
    from outcomes.models import Dispute, OutcomeEvent

    invoice, line = _line(billed)
    response = login(finance_user).post(
        reverse("portal:line-dispute", args=[invoice.pk, line.pk]),
        {"reason": "The ticket is still open"},
        follow=True,
    )
    assert b"Dispute recorded" in response.content
    dispute = Dispute.objects.get()
    assert (dispute.opened_by, dispute.status, dispute.reason) == (
        finance_user,
        "open",
        "The ticket is still open",
    )
    assert OutcomeEvent.objects.get(pk=line.outcome_event_id).status == OutcomeEvent.Status.DISPUTED
