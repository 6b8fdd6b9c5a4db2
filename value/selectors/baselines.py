"""Baselines: the versions of a customer's, the one in force for a period, and the expression billing's
ROI figures read it with (billing.selectors.roi, through the ROI_VALUE_BASIS setting)."""

from datetime import date
from decimal import Decimal

from django.db.models import CharField, Func, OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast, JSONObject

from accounts.models import Customer, Organization
from core.errors import NotFound
from value.models import Baseline

# A customer's declined versions value nothing: the one in force is the latest other version.
IN_FORCE_STATUSES = [Baseline.Status.PROPOSED, Baseline.Status.APPROVED]


def baseline_list(*, organization: Organization, customer: Customer | None = None) -> QuerySet[Baseline]:
    """Every version, by customer, outcome type and version (newest first)."""
    baselines = Baseline.objects.filter(organization=organization)
    if customer is not None:
        baselines = baselines.filter(customer=customer)
    return baselines.select_related("customer", "outcome_type", "proposed_by", "decided_by").order_by(
        "customer__name", "customer__external_id", "outcome_type__code", "-version"
    )


def baseline_get(*, organization: Organization, baseline_id: int, customer: Customer | None = None) -> Baseline:
    """One version of the organization's; with `customer`, only that customer's (else NotFound)."""
    baselines = Baseline.objects.filter(organization=organization, pk=baseline_id)
    if customer is not None:
        baselines = baselines.filter(customer=customer)
    baseline = baselines.select_related("customer", "outcome_type").first()
    if baseline is None:
        raise NotFound(f"No baseline {baseline_id}.", field="baseline")
    return baseline


def baseline_in_force(*, customer_id: int, outcome_type_id: int, period_start: date) -> Baseline | None:
    return (
        Baseline.objects.filter(customer_id=customer_id, outcome_type_id=outcome_type_id,
                                effective_from__lte=period_start, status__in=IN_FORCE_STATUSES)
        .order_by("-effective_from", "-version").first()
    )


def baselines_in_force(*, customer_id: int, period_start: date) -> dict[int, Baseline]:
    """The version in force for each outcome type of the customer in the period: one query."""
    found: dict[int, Baseline] = {}
    rows = (
        Baseline.objects.filter(customer_id=customer_id, effective_from__lte=period_start,
                                status__in=IN_FORCE_STATUSES)
        .select_related("outcome_type").order_by("outcome_type_id", "-effective_from", "-version")
    )
    for baseline in rows:
        found.setdefault(baseline.outcome_type_id, baseline)
    return found


def unit_values(*, customer_id: int, period_start: date, currency: str, estimates: dict[int, Decimal]
                ) -> dict[int, tuple[Decimal, Baseline | None]]:
    """Each outcome type's value of one outcome in the period: its baseline in force (in the customer's
    billing currency), else the type's estimate. The simulator's value; the ROI figures read the same rule
    through `value_basis_expression`."""
    in_force = baselines_in_force(customer_id=customer_id, period_start=period_start)
    result: dict[int, tuple[Decimal, Baseline | None]] = {}
    for type_id, estimate in estimates.items():
        baseline = in_force.get(type_id)
        if baseline is not None and baseline.currency == currency:
            result[type_id] = (baseline.value_per_outcome, baseline)
        else:
            result[type_id] = (estimate, None)
    return result


class _AsText(Func):
    template = "%(expressions)s::text"
    output_field = CharField()


def value_basis_expression(*, customer: str, outcome_type: str, period_start: str) -> Subquery:
    """The baseline in force for the outer row's customer, outcome type and period, as one JSON object
    (id, version, status, unit_value as a decimal string, currency, effective_from), or NULL.

    Billing's ROI figures annotate their per-type groups with it (the names are the outer query's
    columns): the baseline rule lives here, the figures stay one query, and billing imports nothing of
    this app (the setting ROI_VALUE_BASIS names this function)."""
    in_force = (
        Baseline.objects.filter(customer_id=OuterRef(customer), outcome_type_id=OuterRef(outcome_type),
                                effective_from__lte=OuterRef(period_start), status__in=IN_FORCE_STATUSES)
        .order_by("-effective_from", "-version")
        .values(basis=JSONObject(
            id="pk", version="version", status="status", unit_value=_AsText("value_per_outcome"),
            currency="currency", effective_from=Cast("effective_from", CharField()),
        ))[:1]
    )
    return Subquery(in_force)
