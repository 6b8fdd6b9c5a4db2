"""The demo's value: Globex's customer-approved baseline for tickets and a proposed one for document
summaries (its finance user approves it on the Baselines page), Initech's approved baseline for code
reviews, margin guardrails, the value receipts of every finalized month (amended where a credit note or
a baseline changed its figures, so the demo shows a superseded receipt), and a pricing-simulator
comparison for last month, printed for docs/value.md's walkthrough.

Every write looks first (a baseline with the same terms, receipts whose figures are unchanged), so
seeding twice stores nothing twice.
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from accounts.models import Organization
from accounts.selectors import customer_get
from core.money import round_money
from core.periods import Period
from value.models import Baseline
from value.selectors.baselines import baseline_list
from value.selectors.simulator import HybridSpec, SimulationSpec, simulate
from value.services.baselines import BaselineSpec, baseline_decide, baseline_propose
from value.services.guardrails import guardrail_set
from value.services.receipts import receipts_issue_all

Write = Callable[[str], None]

# (customer, outcome, method, minutes, hourly cost, flat value, approved, note)
BASELINES = (
    ("globex", "ticket_resolved", "minutes", Decimal(12), Decimal("48.00"), None, True,
     "Tier-1 agent, 12 minutes a ticket at a loaded 48.00 an hour"),
    ("globex", "document_summarized", "flat", None, None, Decimal("4.00"), False,
     "An analyst's summary, billed internally at 4.00"),
    ("initech", "code_review_completed", "minutes", Decimal(45), Decimal("90.00"), None, True,
     "A senior engineer's review, 45 minutes at 90.00 an hour"),
)
GUARDRAILS = {"ticket_resolved": Decimal("0.30"), "code_review_completed": Decimal("0.50"),
              "document_summarized": Decimal("0.40")}


def value_seed(*, organization: Organization, first: Period, now: datetime, write: Write) -> None:
    for external_id, outcome, method, minutes, hourly, flat, approved, note in BASELINES:
        customer = customer_get(organization=organization, external_id=external_id)
        existing = [b for b in baseline_list(organization=organization, customer=customer)
                    if b.outcome_type.code == outcome and b.effective_from == first.start]
        baseline = existing[0] if existing else baseline_propose(
            customer=customer, actor_label="demo seed",
            spec=BaselineSpec(outcome=outcome, effective_from=first, method=method, currency=customer.currency,
                              minutes=minutes, hourly_cost=hourly, flat_value=flat, note=note))
        if approved and baseline.status == Baseline.Status.PROPOSED:
            baseline_decide(baseline=baseline, customer=customer, approve=True,
                            actor_label=f"{external_id}-finance (demo seed)")
    for outcome, share in GUARDRAILS.items():
        guardrail_set(organization=organization, outcome=outcome, max_cost_share=share)
    receipts = receipts_issue_all(organization=organization)
    amended = sum(1 for r in receipts if r.supersedes_id is not None)
    write(f"Value: {len(BASELINES)} baselines (Globex's document summaries awaiting its approval), "
          f"{len(receipts)} value receipts standing for finalized months ({amended} amending an earlier one).")
    _simulator_summary(organization=organization, period=Period.of(now).previous(), write=write)


def _simulator_summary(*, organization: Organization, period: Period, write: Write) -> None:
    """Last month for Globex under the three scenarios: the walkthrough's numbers."""
    globex = customer_get(organization=organization, external_id="globex")
    spec = SimulationSpec(periods=[period], customers=[globex], token_markup=Decimal("0.5"),
                          hybrid=HybridSpec(platform_fee=Decimal(100), outcome_price_factor=Decimal("0.5")))
    [result] = simulate(organization=organization, spec=spec)
    parts = []
    for key, label in (("price_book", "its price book"), ("tokens", "per token at cost + 50%"),
                       ("hybrid", "hybrid (100.00 platform fee + half the outcome prices)")):
        figures = result.scenarios[key].as_dict(result.currency)
        parts.append(f"{label} {figures['paid']} (margin {figures['margin']}, ROI {figures['roi']})")
    write(f"Simulator, Globex {period.label} in {result.currency}: " + "; ".join(parts)
          + f"; invoiced {round_money(result.invoiced or Decimal(0), result.currency)}.")
