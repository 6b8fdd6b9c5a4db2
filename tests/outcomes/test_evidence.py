"""One definition of an outcome's evidence: the API, the task page, the invoice itemization, its CSV and
the vendor's dispute queue all show outcomes.selectors.outcome_evidence, and agree."""

import csv
import io
import json
import time

import pytest
from django.urls import reverse

from outcomes.models import OutcomeEvent
from outcomes.selectors import outcome_evidence
from outcomes.signing import callback_signature
from outcomes.verification import outcome_reject, verification_source_create
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def evidenced(vendor):
    """Three October outcomes: o0 confirmed by the help desk, o1 assumed (window), o2 rejected by the customer."""
    OutcomeTypeFactory.create(organization=vendor.organization,
                              verification_methods=["window", "system_of_record", "customer_confirmation"])
    source = verification_source_create(organization=vendor.organization, code="zendesk", name="Zendesk",
                                        method="system_of_record")
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    body = json.dumps({"id": "d1", "idempotency_key": "o0", "verdict": "confirmed", "external_id": "ZD-1",
                       "url": "https://desk.example/ZD-1"}).encode()
    answer = vendor.api.client.post(
        f"/api/v1/verification/{vendor.organization.slug}/zendesk", body, content_type="application/json",
        HTTP_TALLY_SIGNATURE=callback_signature(secret=source.secret, timestamp=int(time.time()), body=body))
    assert answer.status_code == 200, answer.content
    outcome_reject(organization=vendor.organization, customer_id=vendor.customer.pk, idempotency_key="o2",
                   reason="the customer says no")
    return vendor


def test_every_place_shows_the_same_summary(evidenced, finance_user) -> None:
    invoice = reconcile(evidenced.customer)
    events = {e.idempotency_key: e for e in OutcomeEvent.objects.all()}
    proofs = outcome_evidence(organization_id=evidenced.organization.pk, event_ids=[e.pk for e in events.values()])
    summaries = {key: proofs[event.pk].summary for key, event in events.items()}
    assert summaries == {"o0": "confirmed · system of record · ZD-1", "o1": "assumed · window passed",
                         "o2": "rejected · customer"}

    # The API, as the vendor and as the customer's own key.
    assert evidenced.api.get("/api/v1/outcome-events/o0/evidence").json()["summary"] == summaries["o0"]

    # The invoice CSV: one evidence cell per outcome line (o2 is disputed, so not billed).
    client = login(finance_user)
    export = client.get(reverse("portal:invoice-csv", args=[invoice.pk]))
    rows = list(csv.DictReader(io.StringIO(export.getvalue().decode())))
    assert {row["outcome_event"]: row["evidence"] for row in rows if row["kind"] == "outcome"} == {
        "o0": summaries["o0"], "o1": summaries["o1"]}

    # The itemization and the task page.
    page = client.get(reverse("portal:invoice-detail", args=[invoice.pk])).content.decode()
    assert summaries["o0"] in page and summaries["o1"] in page
    task = client.get(reverse("portal:task-detail", args=[invoice.pk, "o-task-0"])).content.decode()
    assert "ZD-1" in task and "https://desk.example/ZD-1" in task


def test_the_vendors_dispute_queue_shows_the_rejection_and_its_evidence(evidenced) -> None:
    page = login(evidenced.admin).get(reverse("portal:dispute-list")).content.decode()
    assert "the customer says no" in page
    assert "rejected</strong> by customer" in page


def test_evidence_of_another_organization_is_never_returned(evidenced, stranger) -> None:
    event = OutcomeEvent.objects.get(idempotency_key="o0")
    assert outcome_evidence(organization_id=stranger.organization.pk, event_ids=[event.pk]) == {}
    assert outcome_evidence(organization_id=stranger.organization.pk, events=[event]) == {}
