"""Verification with evidence: the customer confirms or rejects, a system of record or an evaluator
reports by signed callback (or an evaluator's score through the API), and each word is kept as
evidence on the outcome.

Rules (docs/proof.md):
- An outcome type lists its methods; any one suffices. `window` (and `customer_confirmation` with
  silence as consent) verifies when the window passes: the outcome is *assumed*. Any other positive
  evidence verifies at once and makes it *confirmed* (`confirmed_at`), which assurance pricing reads.
- A type that silence does not verify keeps its outcomes pending, `verifiable_at` NULL, until evidence
  arrives; then `verifiable_at` is the moment it did, so a reconciliation as of an earlier cutoff
  still leaves it out (reproducible).
- Negative evidence: a customer's rejection opens a dispute; a system of record's (the ticket was
  reopened, the pull request reverted) or a score under the threshold reverses the outcome (credited
  if it was billed).
- Evidence is only taken by a method the type lists, and never on a reversed or credited outcome.
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Organization, User
from core.crypto import secret_encrypt
from core.errors import Conflict, DomainError, InvalidState, NotFound
from outcomes.enums import OutcomeStatus, VerificationMethod
from outcomes.models import OutcomeEvent, OutcomeEvidence, OutcomeType, VerificationSource
from outcomes.services import _event_save, _move_one, outcome_event_dispute, outcome_event_reverse
from outcomes.signing import callback_signature_check, source_secret_new

Verdict = OutcomeEvidence.Verdict
SETTLED = {OutcomeStatus.REVERSED, OutcomeStatus.CREDITED}


@dataclass(frozen=True)
class EvidenceIn:
    """What a piece of evidence says besides its verdict."""

    note: str = ""
    external_id: str = ""
    url: str = ""
    evaluator: str = ""
    score: Decimal | None = None
    occurred_at: datetime | None = None
    delivery_id: str = ""


def _locked_event(*, organization_id: int, customer_id: int | None = None, idempotency_key: str | None = None,
                  event_id: int | None = None) -> OutcomeEvent:
    events = OutcomeEvent.objects.select_for_update().select_related("outcome_type").filter(
        organization_id=organization_id)
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    if event_id is not None:
        events = events.filter(pk=event_id)
    else:
        events = events.filter(idempotency_key=idempotency_key)
    event = events.first()
    if event is None:
        named = f"idempotency_key {idempotency_key!r}" if event_id is None else f"id {event_id}"
        raise NotFound(f"No outcome event with {named}.", field="idempotency_key")
    return event


def _evidence_take(
    *, event: OutcomeEvent, method: str, verdict: str, evidence: EvidenceIn, threshold: Decimal | None = None,
    source: VerificationSource | None = None, actor_user: User | None = None, actor_label: str = "",
) -> OutcomeEvidence:
    """Record one piece of evidence on a locked event and move the event as it says."""
    outcome_type: OutcomeType = event.outcome_type
    if method not in outcome_type.methods:
        raise InvalidState(f"Outcome type {outcome_type.code!r} is not verified by {method} (it lists "
                           f"{', '.join(outcome_type.methods)}).", field="outcome")
    if event.status in SETTLED or event.is_reversed:
        raise InvalidState(f"The outcome is {event.status}; evidence no longer changes it.", field="outcome")
    now = timezone.now()
    record = OutcomeEvidence(
        organization_id=event.organization_id, outcome_event=event, method=method, verdict=verdict,
        source=source, delivery_id=evidence.delivery_id, score=evidence.score, threshold=threshold,
        evaluator=evidence.evaluator, external_id=evidence.external_id, url=evidence.url, note=evidence.note,
        actor_user=actor_user, actor_label=actor_label, occurred_at=evidence.occurred_at or now, recorded_at=now,
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError as exc:  # the same delivery at once from two requests: the other one took it
        raise Conflict(f"Delivery {evidence.delivery_id!r} was already recorded.", field="id") from exc
    label = actor_label or (actor_user.username if actor_user else method)
    if verdict == Verdict.CONFIRMED:
        _confirm(event=event, method=method, now=now, reason=f"confirmed by {method.replace('_', ' ')} ({label})",
                 actor_user=actor_user, actor_label=actor_label)
    elif method == VerificationMethod.CUSTOMER_CONFIRMATION:
        outcome_event_dispute(
            organization=event.organization, idempotency_key=event.idempotency_key, customer_id=event.customer_id,
            reason=f"Rejected by the customer: {evidence.note or 'no reason given'}", actor_user=actor_user,
            actor_label=actor_label,
        )
    else:
        what = (f"score {evidence.score.normalize():f} under the threshold {threshold.normalize():f}"
                if evidence.score is not None and threshold is not None else "rejected")
        outcome_event_reverse(
            organization=event.organization, idempotency_key=event.idempotency_key,
            reason=f"{method.replace('_', ' ')} {label}: {what}" + (f" ({evidence.note})" if evidence.note else ""),
            actor_user=actor_user, actor_label=actor_label or label,
        )
    return record


def _confirm(*, event: OutcomeEvent, method: str, now: datetime, reason: str, actor_user: User | None,
             actor_label: str) -> None:
    """Positive evidence: a pending outcome is verified now; any unconfirmed one becomes confirmed. A
    disputed one keeps its status (the vendor decides), but is confirmed should the dispute be rejected."""
    fields = []
    if event.confirmed_at is None:
        event.confirmed_at = now
        fields.append("confirmed_at")
    if event.status in {OutcomeStatus.PENDING, OutcomeStatus.DISPUTED} and (
            event.verifiable_at is None or event.verifiable_at > now):
        event.verifiable_at = now
        fields.append("verifiable_at")
    if event.status == OutcomeStatus.PENDING:
        _move_one(event=event, to_status=OutcomeStatus.VERIFIED, reason=reason, actor_label=actor_label or method,
                  actor_user=actor_user)
        fields.append("status")
    if not event.verified_by and event.status in {OutcomeStatus.PENDING, OutcomeStatus.VERIFIED,
                                                  OutcomeStatus.DISPUTED}:
        event.verified_by = method
        fields.append("verified_by")
    if fields:
        _event_save(event=event, fields=fields)


# The customer ------------------------------------------------------------------------------------------


def outcome_confirm(
    *, organization: Organization, customer_id: int, idempotency_key: str | None = None, event_id: int | None = None,
    note: str = "", actor_user: User | None = None, actor_label: str = "",
) -> OutcomeEvidence:
    """The customer confirms one of its outcomes (portal, customer API key or emailed link)."""
    with transaction.atomic():
        event = _locked_event(organization_id=organization.pk, customer_id=customer_id,
                              idempotency_key=idempotency_key, event_id=event_id)
        if event.confirmed_at is not None and event.evidence.filter(
                method=VerificationMethod.CUSTOMER_CONFIRMATION, verdict=Verdict.CONFIRMED).exists():
            raise InvalidState("The customer has already confirmed this outcome.", field="outcome")
        return _evidence_take(event=event, method=VerificationMethod.CUSTOMER_CONFIRMATION, verdict=Verdict.CONFIRMED,
                              evidence=EvidenceIn(note=note), actor_user=actor_user, actor_label=actor_label)


def outcome_reject(
    *, organization: Organization, customer_id: int, reason: str, idempotency_key: str | None = None,
    event_id: int | None = None, actor_user: User | None = None, actor_label: str = "",
) -> OutcomeEvidence:
    """The customer rejects one of its outcomes: a dispute opens and holds it out of billing."""
    if not reason.strip():
        raise DomainError("Say why the outcome is rejected.", field="reason")
    with transaction.atomic():
        event = _locked_event(organization_id=organization.pk, customer_id=customer_id,
                              idempotency_key=idempotency_key, event_id=event_id)
        if event.status == OutcomeStatus.DISPUTED:
            raise InvalidState("This outcome is already disputed.", field="outcome")
        return _evidence_take(event=event, method=VerificationMethod.CUSTOMER_CONFIRMATION, verdict=Verdict.REJECTED,
                              evidence=EvidenceIn(note=reason), actor_user=actor_user, actor_label=actor_label)


# Evaluators through the API ----------------------------------------------------------------------------


def outcome_score_record(
    *, organization: Organization, idempotency_key: str, score: Decimal, evidence: EvidenceIn,
    actor_label: str = "", source: VerificationSource | None = None,
) -> OutcomeEvidence:
    """An evaluator's score: at or over the type's threshold it confirms the outcome, under it reverses it."""
    with transaction.atomic():
        event = _locked_event(organization_id=organization.pk, idempotency_key=idempotency_key)
        threshold = event.outcome_type.evaluator_threshold
        verdict = Verdict.CONFIRMED if threshold is not None and score >= threshold else Verdict.REJECTED
        return _evidence_take(
            event=event, method=VerificationMethod.EVALUATOR, verdict=verdict, threshold=threshold, source=source,
            evidence=replace(evidence, score=score), actor_label=actor_label,
        )


# Signed callbacks ---------------------------------------------------------------------------------------


def verification_source_create(*, organization: Organization, code: str, name: str, method: str
                               ) -> VerificationSource:
    if method not in {VerificationMethod.SYSTEM_OF_RECORD, VerificationMethod.EVALUATOR}:
        raise DomainError("A source is a system_of_record or an evaluator.", field="method")
    try:
        with transaction.atomic():
            return VerificationSource.objects.create(organization=organization, code=code, name=name,
                                                     method=method,
                                                     secret_encrypted=secret_encrypt(source_secret_new()))
    except IntegrityError as exc:
        raise Conflict(f"A verification source with code {code!r} already exists.", field="code") from exc


def verification_source_secret_rotate(*, organization: Organization, code: str) -> VerificationSource:
    with transaction.atomic():
        source = VerificationSource.objects.select_for_update().filter(organization=organization, code=code).first()
        if source is None:
            raise NotFound(f"No verification source {code!r}.", field="code")
        source.secret = source_secret_new()
        source.save(update_fields=["secret_encrypted"])
        return source


@dataclass(frozen=True)
class CallbackResult:
    duplicate: bool
    evidence: OutcomeEvidence
    outcome: OutcomeEvent


def _text(payload: dict[str, Any], name: str, *, required: bool = False, max_length: int = 200) -> str:
    value = payload.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        raise DomainError(f"{name} must be a string of at most {max_length} characters.", field=name)
    if required and not value.strip():
        raise DomainError(f"{name} is required.", field=name)
    return value


def _callback_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DomainError("The body is not JSON.", field="body") from exc
    if not isinstance(payload, dict):
        raise DomainError("The body must be a JSON object.", field="body")
    known = {"id", "idempotency_key", "customer", "task_id", "outcome", "verdict", "score", "evaluator",
             "external_id", "url", "note", "occurred_at"}
    extra = sorted(set(payload) - known)
    if extra:
        raise DomainError(f"Unknown field(s): {', '.join(extra)}.", field=extra[0])
    return payload


def _callback_event(*, organization: Organization, payload: dict[str, Any]) -> OutcomeEvent:
    """The outcome a callback names: by idempotency key, or by customer, task id and outcome type code."""
    key = _text(payload, "idempotency_key")
    if key:
        return _locked_event(organization_id=organization.pk, idempotency_key=key)
    customer, task_id, code = (_text(payload, name) for name in ("customer", "task_id", "outcome"))
    if not (customer and task_id and code):
        raise DomainError("Name the outcome by idempotency_key, or by customer, task_id and outcome.",
                          field="idempotency_key")
    event_ids = list(
        OutcomeEvent.objects.filter(organization=organization, customer__external_id=customer, task_id=task_id,
                                    outcome_type__code=code)
        .order_by("-timestamp", "-pk").values_list("pk", flat=True)[:1]
    )
    if not event_ids:
        raise NotFound(f"No {code!r} outcome for task {task_id!r} of customer {customer!r}.", field="task_id")
    return _locked_event(organization_id=organization.pk, event_id=event_ids[0])


def verification_callback_receive(
    *, organization_slug: str, source_code: str, body: bytes, signature: str | None, now: datetime | None = None,
) -> CallbackResult:
    """A signed callback from a verification source. The signature is checked before the body is read;
    a delivery already recorded (a retry, a replay within the tolerance) answers as before, changing nothing."""
    now = now or timezone.now()
    source = (VerificationSource.objects.select_related("organization")
              .filter(organization__slug=organization_slug, code=source_code).first())
    if source is None:
        raise NotFound(f"No verification source {source_code!r} for organization {organization_slug!r}.",
                       field="source")
    callback_signature_check(secret=source.secret, header=signature, body=body, now=now)
    if source.disabled_at is not None:
        raise InvalidState(f"The verification source {source_code!r} is disabled.", field="source")
    payload = _callback_payload(body)
    delivery_id = _text(payload, "id", required=True)
    organization = source.organization
    with transaction.atomic():
        previous = OutcomeEvidence.objects.filter(source=source, delivery_id=delivery_id).select_related(
            "outcome_event").first()
        if previous is not None:
            return CallbackResult(duplicate=True, evidence=previous, outcome=previous.outcome_event)
        event = _callback_event(organization=organization, payload=payload)
        evidence = _callback_evidence(payload, delivery_id=delivery_id)
        if source.method == VerificationMethod.EVALUATOR:
            if evidence.score is None:
                raise DomainError("An evaluator's callback carries a score.", field="score")
            record = outcome_score_record(organization=organization, idempotency_key=event.idempotency_key,
                                          score=evidence.score, evidence=evidence, actor_label=source.code,
                                          source=source)
        else:
            verdict = _text(payload, "verdict", required=True)
            if verdict not in Verdict.values:
                raise DomainError("verdict must be confirmed or rejected.", field="verdict")
            record = _evidence_take(event=event, method=VerificationMethod.SYSTEM_OF_RECORD, verdict=verdict,
                                    evidence=evidence, source=source, actor_label=source.code)
        event.refresh_from_db()
        return CallbackResult(duplicate=False, evidence=record, outcome=event)


def _callback_evidence(payload: dict[str, Any], *, delivery_id: str) -> EvidenceIn:
    score: Decimal | None = None
    raw_score = payload.get("score")
    if raw_score is not None:
        if isinstance(raw_score, bool) or not isinstance(raw_score, (str, int, float)):
            raise DomainError("score must be a number or a decimal string.", field="score")
        try:
            score = Decimal(str(raw_score))
        except InvalidOperation as exc:
            raise DomainError("score must be a number or a decimal string.", field="score") from exc
        if not score.is_finite() or abs(score) >= 10**6:
            raise DomainError("score must be a finite number under 1,000,000.", field="score")
    occurred_at = None
    raw_time = _text(payload, "occurred_at", max_length=64)
    if raw_time:
        occurred_at = parse_datetime(raw_time)
        if occurred_at is None or occurred_at.tzinfo is None:
            raise DomainError("occurred_at must be an ISO 8601 time with its offset.", field="occurred_at")
    url = _text(payload, "url", max_length=1000)
    if url and not url.startswith(("https://", "http://")):
        raise DomainError("url must be an http(s) address.", field="url")
    return EvidenceIn(
        note=_text(payload, "note", max_length=2000), external_id=_text(payload, "external_id"), url=url,
        evaluator=_text(payload, "evaluator"), score=score, occurred_at=occurred_at, delivery_id=delivery_id,
    )
