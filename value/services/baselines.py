"""Baselines: the vendor proposes a version, a user or key of the customer approves or declines it."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Customer, User
from core.errors import DomainError, InvalidState, NotFound
from core.money import money_check
from core.periods import Period
from outcomes.selectors import outcome_types_by_id
from value.models import Baseline

MINUTES_IN_AN_HOUR = Decimal(60)


@dataclass(frozen=True)
class BaselineSpec:
    """What the vendor proposes: minutes × loaded hourly cost, or a flat value, per outcome."""

    outcome: str  # outcome type code
    effective_from: Period
    method: str
    currency: str
    minutes: Decimal | None = None
    hourly_cost: Decimal | None = None
    flat_value: Decimal | None = None
    note: str = ""

    def value_per_outcome(self) -> Decimal:
        """Checked inputs and the exact value of one outcome (never rounded: it multiplies counts)."""
        if self.method == Baseline.Method.MINUTES:
            if self.minutes is None or self.minutes <= 0:
                raise DomainError("Minutes per outcome must be more than 0.", field="minutes")
            if self.hourly_cost is None or self.hourly_cost < 0:
                raise DomainError("A loaded hourly cost of 0 or more is needed.", field="hourly_cost")
            money_check(self.hourly_cost, self.currency, field="hourly_cost")
            return self.minutes * self.hourly_cost / MINUTES_IN_AN_HOUR
        if self.method == Baseline.Method.FLAT:
            if self.flat_value is None or self.flat_value < 0:
                raise DomainError("A flat value of 0 or more is needed.", field="flat_value")
            return money_check(self.flat_value, self.currency, field="flat_value")
        raise DomainError(f"{self.method!r} is not a method: minutes or flat.", field="method")


def baseline_propose(*, customer: Customer, spec: BaselineSpec, acting_user: User | None = None,
                     actor_label: str = "") -> Baseline:
    """A new version for the customer and outcome type, proposed: the customer approves or declines it."""
    if spec.currency != customer.currency:
        raise DomainError(f"A baseline of {customer.external_id!r} is in its billing currency, "
                          f"{customer.currency}, not {spec.currency}.", field="currency")
    value = spec.value_per_outcome()
    types = outcome_types_by_id(organization_id=customer.organization_id)
    outcome_type = next((t for t in types.values() if t.code == spec.outcome), None)
    if outcome_type is None:
        raise DomainError(f"No outcome type {spec.outcome!r}.", field="outcome")
    with transaction.atomic():
        # The customer row lock serialises proposals: versions are 1, 2, … without gaps or twins.
        Customer.objects.select_for_update().get(pk=customer.pk)
        last = Baseline.objects.filter(customer=customer, outcome_type_id=outcome_type.pk).aggregate(
            last=Max("version"))["last"] or 0
        return Baseline.objects.create(
            organization_id=customer.organization_id, customer=customer, outcome_type_id=outcome_type.pk,
            version=last + 1, effective_from=spec.effective_from.start, method=spec.method,
            minutes=spec.minutes if spec.method == Baseline.Method.MINUTES else None,
            hourly_cost=spec.hourly_cost if spec.method == Baseline.Method.MINUTES else None,
            flat_value=spec.flat_value if spec.method == Baseline.Method.FLAT else None,
            value_per_outcome=value, currency=spec.currency, note=spec.note, proposed_by=acting_user,
            proposed_by_label=actor_label or (f"user:{acting_user.username}" if acting_user else "system"),
            proposed_at=timezone.now(),
        )


def baseline_decide(*, baseline: Baseline, customer: Customer, approve: bool, acting_user: User | None = None,
                    actor_label: str = "") -> Baseline:
    """The customer's answer to a proposed version. Only the baseline's own customer decides (`customer`
    is the deciding party's: a portal user's or a customer key's), and only once."""
    if baseline.customer_id != customer.pk:
        raise NotFound(f"No baseline {baseline.pk}.", field="baseline")
    with transaction.atomic():
        current = Baseline.objects.select_for_update().get(pk=baseline.pk)
        if current.status != Baseline.Status.PROPOSED:
            raise InvalidState(f"Baseline version {current.version} was already {current.status}.", field="status")
        current.status = Baseline.Status.APPROVED if approve else Baseline.Status.DECLINED
        current.decided_by = acting_user
        current.decided_by_label = actor_label or (f"user:{acting_user.username}" if acting_user else "")
        current.decided_at = timezone.now()
        current.save(update_fields=["status", "decided_by", "decided_by_label", "decided_at"])
        return current
