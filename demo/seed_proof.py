"""The demo's proof: outcome types verified by each method, a help desk's and a survey's signed callbacks,
Globex's confirmations and a rejection, and a price book that prices assumed outcomes at 80%.

Globex (whose finance user logs into the demo portal) gets, in the last few days:
- pull requests merged (system of record + window): four confirmed by GitHub's signed callback, one
  reverted (reversed), three assumed (the window passed in silence);
- refunds processed (the customer confirms; silence is consent after 48 h): three confirmed, one
  rejected (a dispute), two assumed, two still awaiting Globex's answer on its Confirm outcomes page;
- tickets scored by a CSAT survey (evaluator, threshold 4): three confirmed, one under the threshold
  (reversed), one awaiting its score.
Every step looks first (fixed idempotency keys and delivery ids), so seeding twice stores nothing twice.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from accounts.models import Organization
from accounts.selectors import customer_get
from billing.selectors.account import price_book_in_force
from billing.services.price_books import EntrySpec, MeterSpec, price_book_create
from billing.services.reconcile import customer_drafts_refresh
from core.periods import Period
from outcomes.confirmation_requests import confirmation_link_url
from outcomes.ingestion import outcome_events_ingest
from outcomes.selectors import outcome_event_list, outcome_types_by_id, verification_source_list
from outcomes.services import outcome_type_create, outcomes_verify_due
from outcomes.signing import callback_signature
from outcomes.verification import (
    outcome_confirm,
    outcome_reject,
    verification_callback_receive,
    verification_source_create,
)

Write = Callable[[str], None]

CUSTOMER = "globex"
ASSUMED_FACTOR = Decimal("0.8")
PROOF_CAP_ROOM = Decimal("150.00")  # 8 × 12.00 + 8 × 2.00 + 5 × 1.50 = 119.50, rounded up


@dataclass(frozen=True)
class ProofType:
    code: str
    name: str
    price: Decimal
    value: Decimal
    methods: tuple[str, ...]
    window_hours: int = 0
    silence_is_consent: bool = False
    threshold: Decimal | None = None


TYPES = (
    ProofType("pr_merged", "Pull request merged", Decimal("12.00"), Decimal("120.00"),
              ("window", "system_of_record"), window_hours=24),
    ProofType("refund_processed", "Refund processed", Decimal("2.00"), Decimal("15.00"),
              ("customer_confirmation",), window_hours=48, silence_is_consent=True),
    ProofType("csat_resolution", "Ticket resolved, CSAT 4+", Decimal("1.50"), Decimal("8.00"),
              ("evaluator",), threshold=Decimal("4")),
)
SOURCES = (("github", "GitHub", "system_of_record"), ("csat", "CSAT survey", "evaluator"))
# (key suffix, hours ago): pull requests and refunds old enough for their windows, the last refunds not.
PULL_REQUESTS = [(n, 30 + 5 * n) for n in range(1, 9)]
REFUNDS = [(n, 60 + 3 * n) for n in range(1, 7)] + [(7, 5), (8, 3)]
TICKETS = [(n, 4 + n) for n in range(1, 6)]


def proof_seed(*, organization: Organization, now: datetime, write: Write) -> None:
    customer = customer_get(organization=organization, external_id=CUSTOMER)
    _types(organization)
    sources = _sources(organization)
    _book(customer_id=customer.pk, period=Period.of(now))
    events = ([_event("pr", n, "pr_merged", now - timedelta(hours=h)) for n, h in PULL_REQUESTS]
              + [_event("refund", n, "refund_processed", now - timedelta(hours=h)) for n, h in REFUNDS]
              + [_event("csat", n, "csat_resolution", now - timedelta(hours=h)) for n, h in TICKETS])
    outcome_events_ingest(organization_id=organization.pk, body=json.dumps({"events": events}).encode())

    github, csat = sources["github"], sources["csat"]
    for n in (1, 2, 3, 4):
        _callback(organization, github, now, {"id": f"gh-merge-{n}", "idempotency_key": f"proof-pr-{n}",
                                             "verdict": "confirmed", "external_id": f"acme-ai/agent#{400 + n}",
                                             "url": f"https://github.com/acme-ai/agent/pull/{400 + n}",
                                             "note": "merged, not reverted in 7 days"})
    _callback(organization, github, now, {"id": "gh-revert-5", "idempotency_key": "proof-pr-5", "verdict": "rejected",
                                         "external_id": "acme-ai/agent#405", "note": "reverted by #411"})
    for n, score in ((1, "5"), (2, "4"), (3, "4.5"), (4, "2")):
        _callback(organization, csat, now, {"id": f"csat-{n}", "idempotency_key": f"proof-csat-{n}", "score": score,
                                           "evaluator": "post-resolution CSAT survey", "external_id": f"survey-{n}"})
    proof_events = outcome_event_list(organization_id=organization.pk).filter(idempotency_key__startswith="proof-")
    by_key = {event.idempotency_key: event for event in proof_events}
    for n in (1, 2, 3):
        if by_key[f"proof-refund-{n}"].confirmed_at is None:
            outcome_confirm(organization=organization, customer_id=customer.pk, idempotency_key=f"proof-refund-{n}",
                            note="refund seen on our statement", actor_label="link:globex")
    if by_key["proof-refund-4"].status in ("pending", "verified"):
        outcome_reject(organization=organization, customer_id=customer.pk, idempotency_key="proof-refund-4",
                       reason="We never asked for this refund; the order was delivered.", actor_label="link:globex")
    outcomes_verify_due(now=now)
    customer_drafts_refresh(customer_id=customer.pk)

    waiting = by_key["proof-refund-7"]
    write(f"Proof: {len(events)} outcomes of {len(TYPES)} verified types for {CUSTOMER}: confirmed by GitHub, a CSAT "
          f"survey and {CUSTOMER}, assumed after their windows (billed at {ASSUMED_FACTOR:.0%}), one rejected "
          "(a dispute), two reversed, three awaiting evidence.")
    write(f"  Signed callbacks: POST /api/v1/verification/{organization.slug}/github with Tally-Signature, "
          f"secret {github.secret} (docs/proof.md).")
    write(f"  One-click confirmation link of task {waiting.task_id}: {confirmation_link_url(event=waiting)}")


def _event(kind: str, n: int, code: str, when: datetime) -> dict[str, Any]:
    return {"idempotency_key": f"proof-{kind}-{n}", "customer": CUSTOMER, "outcome": code,
            "task_id": f"{kind}-{1000 + n}", "timestamp": when.isoformat()}


def _types(organization: Organization) -> None:
    existing = {t.code for t in outcome_types_by_id(organization_id=organization.pk).values()}
    for spec in TYPES:
        if spec.code not in existing:
            outcome_type_create(
                organization=organization, code=spec.code, name=spec.name, price=spec.price, currency="USD",
                verification_window_hours=spec.window_hours, value=spec.value, verification_methods=list(spec.methods),
                silence_is_consent=spec.silence_is_consent, evaluator_threshold=spec.threshold,
            )


def _sources(organization: Organization) -> dict[str, Any]:
    sources = {s.code: s for s in verification_source_list(organization_id=organization.pk)}
    for code, name, method in SOURCES:
        if code not in sources:
            sources[code] = verification_source_create(organization=organization, code=code, name=name, method=method)
    return sources


def _book(*, customer_id: int, period: Period) -> None:
    """A new version of Globex's price book from this month: its current prices, plus the proof types at
    full price when confirmed and 80% when assumed. Skipped when this month already has its own version."""
    book = price_book_in_force(customer_id=customer_id, period_start=period.start)
    if book is None or book.effective_from == period.start:
        return
    types = outcome_types_by_id(organization_id=book.organization_id)
    entries = [EntrySpec(outcome=types[e.outcome_type_id].code, model=e.model, unit_price=e.unit_price,
                         tiers=e.tiers or None, package_size=e.package_size, package_price=e.package_price,
                         assumed_price_factor=e.assumed_price_factor) for e in book.entries.all()]
    priced = {entry.outcome for entry in entries}
    entries += [EntrySpec(outcome=spec.code, unit_price=spec.price, assumed_price_factor=ASSUMED_FACTOR)
                for spec in TYPES if spec.code not in priced]
    meters = [MeterSpec(meter=m.meter.code, unit_price=m.unit_price, per=m.per, included_quantity=m.included_quantity)
              for m in book.meter_prices.select_related("meter")]
    price_book_create(customer=book.customer, effective_from=period, currency=book.currency, entries=entries,
                      meters=meters, platform_fee=book.platform_fee, included_outcomes=book.included_outcomes,
                      minimum_commit=book.minimum_commit,
                      # The cap grows by what the proof outcomes can add, so they are not billed at zero.
                      spend_cap=None if book.spend_cap is None else book.spend_cap + PROOF_CAP_ROOM)


def _callback(organization: Organization, source: Any, now: datetime, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    signature = callback_signature(secret=source.secret, timestamp=int(now.timestamp()), body=body)
    verification_callback_receive(organization_slug=organization.slug, source_code=source.code, body=body,
                                  signature=signature, now=now)
