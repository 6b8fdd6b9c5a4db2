"""Each verification method moves outcomes as docs/proof.md says, with evidence, and only for whom it may."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.services import api_key_create
from outcomes.enums import OutcomeStatus
from outcomes.models import Dispute, OutcomeEvent, OutcomeEvidence, VerificationSource
from outcomes.selectors import billable_outcomes, outcome_evidence
from outcomes.services import outcomes_verify_due
from outcomes.signing import callback_signature
from outcomes.verification import outcome_confirm, verification_source_create
from tests.billing.scenario import post_outcomes
from tests.conftest import ApiClient
from tests.factories import CustomerFactory, OutcomeTypeFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 10, 5, 12, tzinfo=UTC)


def _post(vendor: Any, code: str, key: str = "o1", *, when: datetime = T0, customer: str = "acme") -> OutcomeEvent:
    result = post_outcomes(vendor.organization, [{
        "idempotency_key": key, "customer": customer, "outcome": code, "task_id": f"task-{key}",
        "timestamp": when.isoformat()}])
    assert result["accepted"] == 1, result
    return OutcomeEvent.objects.get(organization=vendor.organization, idempotency_key=key)


def _customer_api(vendor: Any, customer: Any = None) -> ApiClient:
    _, raw = api_key_create(organization=vendor.organization, customer=customer or vendor.customer, scope="read")
    return ApiClient(raw)


def _signed(source: VerificationSource, payload: dict[str, Any], *, at: int | None = None,
            secret: str | None = None) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    header = callback_signature(secret=secret or source.secret, timestamp=at or int(time.time()), body=body)
    return {"body": body, "HTTP_TALLY_SIGNATURE": header}


def _callback(api: ApiClient, source: VerificationSource, payload: dict[str, Any], **signing: Any) -> Any:
    signed = _signed(source, payload, **signing)
    return api.client.post(f"/api/v1/verification/{source.organization.slug}/{source.code}", signed["body"],
                           content_type="application/json", HTTP_TALLY_SIGNATURE=signed["HTTP_TALLY_SIGNATURE"])


# window ---------------------------------------------------------------------------------------------------


def test_window_outcome_is_verified_when_its_window_passes_and_is_assumed(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=72)
    event = _post(vendor, "ticket_resolved")
    assert event.verifiable_at == T0 + timedelta(hours=72)

    assert outcomes_verify_due(now=T0 + timedelta(hours=71)) == 0
    assert outcomes_verify_due(now=T0 + timedelta(hours=72)) == 1

    event.refresh_from_db()
    assert (event.status, event.verified_by, event.confirmed_at) == ("verified", "window", None)
    proof = outcome_evidence(organization_id=vendor.organization.pk, event_ids=[event.pk])[event.pk]
    assert (proof.assurance, proof.summary) == ("assumed", "assumed · window passed")


# customer confirmation ---------------------------------------------------------------------------------------


def test_outcome_the_customer_must_confirm_waits_unbilled_until_it_does(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    event = _post(vendor, "ticket_resolved")
    assert event.verifiable_at is None
    far = T0 + timedelta(days=400)
    assert outcomes_verify_due(now=far) == 0
    assert billable_outcomes(organization_id=vendor.organization.pk, customer_id=vendor.customer.pk, start=T0 - timedelta(days=1), end=far, cutoff=far) == []

    api = _customer_api(vendor)
    answer = api.post("/api/v1/outcome-events/o1/confirm", {"note": "ticket closed, thanks"})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["status"], body["assurance"], body["verified_by"]) == ("verified", "confirmed", "customer_confirmation")
    assert body["evidence"][0]["verdict"] == "confirmed"
    assert body["evidence"][0]["who"].startswith("api:")
    assert body["evidence"][0]["note"] == "ticket closed, thanks"
    event.refresh_from_db()
    assert event.status == OutcomeStatus.VERIFIED and event.confirmed_at is not None
    now = timezone.now()
    [billable] = billable_outcomes(organization_id=vendor.organization.pk, customer_id=vendor.customer.pk, start=T0 - timedelta(days=1), end=far, cutoff=now)
    assert billable.confirmed is True
    # Reproducible: as of a cutoff before the confirmation, it was not billable.
    assert billable_outcomes(organization_id=vendor.organization.pk, customer_id=vendor.customer.pk, start=T0 - timedelta(days=1), end=far,
                             cutoff=event.confirmed_at - timedelta(seconds=1)) == []


def test_silence_is_consent_verifies_after_the_window_as_assumed(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"],
                              silence_is_consent=True, verification_window_hours=48)
    event = _post(vendor, "ticket_resolved")
    assert event.verifiable_at == T0 + timedelta(hours=48)

    assert outcomes_verify_due(now=T0 + timedelta(hours=48)) == 1

    [billable] = billable_outcomes(organization_id=vendor.organization.pk, customer_id=vendor.customer.pk, start=T0, end=T0 + timedelta(days=3),
                                   cutoff=timezone.now())
    assert billable.confirmed is False
    event.refresh_from_db()
    assert event.verified_by == "window"


def test_a_confirmation_before_the_window_ends_verifies_at_once_as_confirmed(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["window", "customer_confirmation"],
                              verification_window_hours=24 * 300)
    event = _post(vendor, "ticket_resolved", when=timezone.now() - timedelta(hours=1))

    outcome_confirm(organization=vendor.organization, customer_id=vendor.customer.pk, idempotency_key="o1")

    event.refresh_from_db()
    assert event.status == "verified" and event.verifiable_at == event.confirmed_at
    assert [t.to_status for t in event.transitions.all()] == ["verified"]


def test_the_customer_rejecting_an_outcome_opens_a_dispute_with_the_evidence(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    event = _post(vendor, "ticket_resolved")

    answer = _customer_api(vendor).post("/api/v1/outcome-events/o1/reject", {"reason": "the ticket is still open"})

    assert answer.status_code == 200, answer.content
    assert answer.json()["summary"] == "rejected · customer"
    event.refresh_from_db()
    assert event.status == OutcomeStatus.DISPUTED
    dispute = Dispute.objects.get(outcome_event=event)
    assert dispute.status == "open" and "the ticket is still open" in dispute.reason
    assert OutcomeEvidence.objects.get(outcome_event=event).verdict == "rejected"
    # Rejecting twice is refused: the dispute is open already.
    again = _customer_api(vendor).post("/api/v1/outcome-events/o1/reject", {"reason": "again"})
    assert again.status_code == 409


def test_a_rejection_needs_a_reason(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    _post(vendor, "ticket_resolved")
    answer = _customer_api(vendor).post("/api/v1/outcome-events/o1/reject", {})
    assert answer.status_code == 400 and "reason" in answer.json()["errors"]


def test_only_the_outcomes_own_customer_can_confirm_it(vendor, stranger) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    OutcomeTypeFactory.create(organization=stranger.organization, verification_methods=["customer_confirmation"])
    _post(vendor, "ticket_resolved")
    other_customer = CustomerFactory.create(organization=vendor.organization, external_id="globex")

    # The vendor's own key: the customer's word only.
    assert vendor.api.post("/api/v1/outcome-events/o1/confirm", {}).status_code == 403
    # Another customer of the vendor, and the stranger's customer (same external_id): 404, nothing learnt.
    assert _customer_api(vendor, other_customer).post("/api/v1/outcome-events/o1/confirm", {}).status_code == 404
    assert _customer_api(stranger).post("/api/v1/outcome-events/o1/confirm", {}).status_code == 404
    assert _customer_api(stranger).get("/api/v1/outcome-events/o1/evidence").status_code == 404
    assert stranger.api.get("/api/v1/outcome-events/o1/evidence").status_code == 404
    assert OutcomeEvent.objects.get(idempotency_key="o1").status == "pending"
    assert not OutcomeEvidence.objects.exists()


def test_a_type_the_customer_does_not_confirm_refuses_a_confirmation(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)  # window only
    _post(vendor, "ticket_resolved")
    answer = _customer_api(vendor).post("/api/v1/outcome-events/o1/confirm", {})
    assert answer.status_code == 409
    assert "not verified by customer_confirmation" in answer.json()["detail"]


def test_the_customer_key_lists_what_awaits_its_confirmation(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    OutcomeTypeFactory.create(organization=vendor.organization, code="pr_merged")  # window only: not listed
    _post(vendor, "ticket_resolved", "a")
    _post(vendor, "ticket_resolved", "b")
    _post(vendor, "pr_merged", "c")
    api = _customer_api(vendor)
    api.post("/api/v1/outcome-events/b/confirm", {})

    answer = api.get("/api/v1/outcome-confirmations")

    assert [row["idempotency_key"] for row in answer.json()] == ["a"]


# system of record --------------------------------------------------------------------------------------------


@pytest.fixture
def helpdesk(vendor) -> VerificationSource:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["system_of_record"])
    return verification_source_create(organization=vendor.organization, code="zendesk", name="Zendesk",
                                      method="system_of_record")


def test_a_signed_callback_confirms_the_outcome_with_its_evidence(vendor, helpdesk) -> None:
    event = _post(vendor, "ticket_resolved")

    answer = _callback(vendor.api, helpdesk, {
        "id": "dlv-1", "idempotency_key": "o1", "verdict": "confirmed", "external_id": "ZD-4711",
        "url": "https://acme.zendesk.com/tickets/4711", "note": "solved, not reopened in 7 days"})

    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"]["summary"] == "confirmed · system of record · ZD-4711"
    event.refresh_from_db()
    assert (event.status, event.verified_by) == ("verified", "system_of_record")
    evidence = OutcomeEvidence.objects.get(outcome_event=event)
    assert (evidence.source, evidence.external_id, evidence.actor_label) == (helpdesk, "ZD-4711", "zendesk")


def test_a_callback_may_name_the_outcome_by_customer_task_and_type(vendor, helpdesk) -> None:
    event = _post(vendor, "ticket_resolved")
    answer = _callback(vendor.api, helpdesk, {"id": "dlv-1", "customer": "acme", "task_id": "task-o1",
                                             "outcome": "ticket_resolved", "verdict": "confirmed"})
    assert answer.status_code == 200, answer.content
    event.refresh_from_db()
    assert event.status == "verified"


def test_a_rejecting_callback_reverses_the_outcome(vendor, helpdesk) -> None:
    event = _post(vendor, "ticket_resolved")
    answer = _callback(vendor.api, helpdesk, {"id": "dlv-2", "idempotency_key": "o1", "verdict": "rejected",
                                             "note": "reopened by the requester"})
    assert answer.status_code == 200, answer.content
    event.refresh_from_db()
    assert event.status == OutcomeStatus.REVERSED and "reopened by the requester" in event.reversal_reason


def test_a_replayed_delivery_is_recognised_and_changes_nothing(vendor, helpdesk) -> None:
    _post(vendor, "ticket_resolved")
    signed = _signed(helpdesk, {"id": "dlv-1", "idempotency_key": "o1", "verdict": "confirmed"})
    url = f"/api/v1/verification/{vendor.organization.slug}/zendesk"

    first = vendor.api.client.post(url, signed["body"], content_type="application/json",
                                   HTTP_TALLY_SIGNATURE=signed["HTTP_TALLY_SIGNATURE"])
    second = vendor.api.client.post(url, signed["body"], content_type="application/json",
                                    HTTP_TALLY_SIGNATURE=signed["HTTP_TALLY_SIGNATURE"])

    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (second.status_code, second.json()["duplicate"]) == (200, True)
    assert OutcomeEvidence.objects.count() == 1


@pytest.mark.parametrize("forgery", ["wrong_secret", "tampered_body", "stale", "future", "missing", "malformed"])
def test_forged_or_stale_callbacks_are_refused_with_401_and_change_nothing(vendor, helpdesk, forgery) -> None:
    _post(vendor, "ticket_resolved")
    payload = {"id": "dlv-1", "idempotency_key": "o1", "verdict": "confirmed"}
    body = json.dumps(payload).encode()
    now = int(time.time())
    header = {
        "wrong_secret": callback_signature(secret="vsec_guess", timestamp=now, body=body),
        "tampered_body": callback_signature(secret=helpdesk.secret, timestamp=now, body=body.replace(b"o1", b"o2")),
        "stale": callback_signature(secret=helpdesk.secret, timestamp=now - 301, body=body),
        "future": callback_signature(secret=helpdesk.secret, timestamp=now + 301, body=body),
        "missing": None,
        "malformed": "v1=abc",
    }[forgery]
    extra = {} if header is None else {"HTTP_TALLY_SIGNATURE": header}

    answer = vendor.api.client.post(f"/api/v1/verification/{vendor.organization.slug}/zendesk", body,
                                    content_type="application/json", **extra)

    assert answer.status_code == 401, answer.content
    assert answer.json()["code"] == "authentication_failed"
    assert "Tally-Signature" in answer.json()["errors"]
    assert OutcomeEvent.objects.get(idempotency_key="o1").status == "pending"
    assert not OutcomeEvidence.objects.exists()


def test_another_organizations_source_secret_cannot_confirm(vendor, stranger, helpdesk) -> None:
    _post(vendor, "ticket_resolved")
    theirs = verification_source_create(organization=stranger.organization, code="zendesk", name="Zendesk",
                                        method="system_of_record")
    # Signed with the stranger's secret, sent to the vendor's source: refused.
    answer = _callback(vendor.api, helpdesk, {"id": "x", "idempotency_key": "o1", "verdict": "confirmed"},
                       secret=theirs.secret)
    assert answer.status_code == 401
    # Sent to the stranger's own source, naming the vendor's outcome: not the stranger's to find.
    answer = _callback(stranger.api, theirs, {"id": "y", "idempotency_key": "o1", "verdict": "confirmed"})
    assert answer.status_code == 404
    assert OutcomeEvent.objects.get(idempotency_key="o1").status == "pending"


def test_a_sources_callbacks_over_its_rate_limit_get_429_before_any_lookup(vendor, helpdesk, settings) -> None:
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "callback": "2/min"}}
    _post(vendor, "ticket_resolved")
    payload = {"id": "dlv-9", "idempotency_key": "o1", "verdict": "confirmed"}
    forged = _callback(vendor.api, helpdesk, payload, secret="not-the-secret")  # a flood counts, signed or not
    first = _callback(vendor.api, helpdesk, payload)
    flooded = _callback(vendor.api, helpdesk, {**payload, "id": "dlv-10"})
    assert (forged.status_code, first.status_code, flooded.status_code) == (401, 200, 429)
    assert flooded.json()["code"] == "throttled" and 1 <= int(flooded["Retry-After"]) <= 60
    assert OutcomeEvidence.objects.count() == 1
    other = verification_source_create(organization=vendor.organization, code="jira", name="Jira",
                                       method="system_of_record")
    assert _callback(vendor.api, other, {**payload, "id": "dlv-11"}).status_code != 429  # its own budget


def test_a_signed_but_malformed_callback_is_a_400_naming_the_field(vendor, helpdesk) -> None:
    _post(vendor, "ticket_resolved")
    answer = _callback(vendor.api, helpdesk, {"id": "d", "idempotency_key": "o1", "verdict": "maybe"})
    assert answer.status_code == 400 and "verdict" in answer.json()["errors"]
    answer = _callback(vendor.api, helpdesk, {"idempotency_key": "o1", "verdict": "confirmed"})
    assert answer.status_code == 400 and "id" in answer.json()["errors"]
    answer = _callback(vendor.api, helpdesk, {"id": "d", "idempotency_key": "o1", "verdict": "confirmed", "x": 1})
    assert answer.status_code == 400 and "x" in answer.json()["errors"]


def test_an_unknown_source_is_404(vendor) -> None:
    answer = vendor.api.client.post(f"/api/v1/verification/{vendor.organization.slug}/nope", b"{}",
                                    content_type="application/json")
    assert answer.status_code == 404


def test_a_rotated_secret_stops_the_old_one_at_once(vendor, helpdesk) -> None:
    _post(vendor, "ticket_resolved")
    old = helpdesk.secret
    rotated = vendor.api.post("/api/v1/verification-sources/zendesk/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != old
    answer = _callback(vendor.api, helpdesk, {"id": "d", "idempotency_key": "o1", "verdict": "confirmed"}, secret=old)
    assert answer.status_code == 401


# evaluator ---------------------------------------------------------------------------------------------------


@pytest.fixture
def judged(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["evaluator"],
                              evaluator_threshold=Decimal("0.8"))


def test_a_score_at_the_threshold_confirms_the_outcome(vendor, judged) -> None:
    event = _post(vendor, "ticket_resolved")
    answer = vendor.api.post("/api/v1/outcome-events/o1/evaluations",
                             {"score": "0.80", "evaluator": "judge-v2", "url": "https://traces.example/t/1"})
    assert answer.status_code == 201, answer.content
    assert answer.json()["summary"] == "confirmed · evaluator · score 0.8"
    event.refresh_from_db()
    assert (event.status, event.verified_by) == ("verified", "evaluator")


def test_a_score_under_the_threshold_reverses_the_outcome(vendor, judged) -> None:
    event = _post(vendor, "ticket_resolved")
    answer = vendor.api.post("/api/v1/outcome-events/o1/evaluations", {"score": "0.79", "evaluator": "csat"})
    assert answer.status_code == 201
    event.refresh_from_db()
    assert event.status == "reversed" and "under the threshold 0.8" in event.reversal_reason
    # A reversed outcome takes no more evidence.
    assert vendor.api.post("/api/v1/outcome-events/o1/evaluations", {"score": "1"}).status_code == 409


def test_an_evaluator_source_scores_by_signed_callback(vendor, judged) -> None:
    source = verification_source_create(organization=vendor.organization, code="csat", name="CSAT survey",
                                        method="evaluator")
    event = _post(vendor, "ticket_resolved")
    answer = _callback(vendor.api, source, {"id": "s-1", "idempotency_key": "o1", "score": "0.9",
                                            "evaluator": "csat-survey"})
    assert answer.status_code == 200, answer.content
    event.refresh_from_db()
    assert event.confirmed_at is not None
    missing = _callback(vendor.api, source, {"id": "s-2", "idempotency_key": "o1"})
    assert missing.status_code == 400 and "score" in missing.json()["errors"]


def test_an_evaluator_type_needs_a_threshold(vendor) -> None:
    answer = vendor.api.post("/api/v1/outcome-types", {
        "code": "judged", "name": "Judged", "price": "1", "currency": "USD", "value": "1",
        "verification_methods": ["evaluator"]})
    assert answer.status_code == 400 and "evaluator_threshold" in answer.json()["errors"]
    answer = vendor.api.post("/api/v1/outcome-types", {
        "code": "judged", "name": "Judged", "price": "1", "currency": "USD", "value": "1",
        "verification_methods": ["evaluator", "customer_confirmation"], "evaluator_threshold": "0.7"})
    assert answer.status_code == 201, answer.content
    assert answer.json()["verification_methods"] == ["customer_confirmation", "evaluator"]


# evidence is a record ----------------------------------------------------------------------------------------


def test_evidence_once_recorded_is_never_edited(vendor, judged) -> None:
    _post(vendor, "ticket_resolved")
    vendor.api.post("/api/v1/outcome-events/o1/evaluations", {"score": "0.9"})
    with pytest.raises(DatabaseError), transaction.atomic():
        OutcomeEvidence.objects.update(score=Decimal("0.1"))


def test_the_outcome_trace_explains_how_it_was_verified(vendor, helpdesk) -> None:
    _post(vendor, "ticket_resolved")
    _callback(vendor.api, helpdesk, {"id": "d", "idempotency_key": "o1", "verdict": "confirmed", "external_id": "ZD-9"})

    trace = vendor.api.get("/api/v1/outcome-events/o1/trace").json()

    assert trace["evidence"]["assurance"] == "confirmed"
    assert trace["evidence"]["evidence"][0]["external_id"] == "ZD-9"
    assert trace["history"][-1]["to_status"] == "verified"
