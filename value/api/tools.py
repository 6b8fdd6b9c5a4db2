"""API: the pricing simulator, the efficiency report, margin guardrails and a task's budget."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from accounts.api.views import scoped_customer_get
from accounts.selectors import customer_get, customer_list
from billing.api.books import MeterPriceInput, PriceBookInput
from core.api.fields import DecimalStringField, PeriodField, decimal_str
from core.errors import DomainError
from core.money import round_money
from core.periods import period_parse
from metering.selectors import meter_codes
from value.selectors.efficiency import OUTLIER_FACTOR, OUTLIERS_SHOWN, efficiency_report, efficiency_rows
from value.selectors.simulator import (
    HybridSpec,
    SimulationSpec,
    meter_prices_from_input,
    plan_from_input,
    simulate,
)
from value.services.guardrails import guardrail_set, task_budget


class WhatIfBookInput(PriceBookInput):
    effective_from = None  # type: ignore[assignment]


class HybridInput(serializers.Serializer):
    platform_fee = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal(0))
    outcome_price_factor = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal("0.5"),
                                              help_text="The book's outcome prices × this factor.")
    meters = MeterPriceInput(many=True, required=False, default=list)


class SimulationInput(serializers.Serializer):
    customer = serializers.CharField(required=False, allow_null=True, default=None,
                                     help_text="external_id; null: every customer.")
    periods = serializers.ListField(child=PeriodField(), min_length=1, max_length=12)
    token_markup = DecimalStringField(min_value=Decimal(0), required=False, default=Decimal("0.5"),
                                      help_text="Per-token scenario: cost × (1 + markup).")
    price_book = WhatIfBookInput(required=False, allow_null=True, default=None,
                                 help_text="A what-if book; null: each customer's own book in force.")
    hybrid = HybridInput(required=False, default=dict)


class ScenarioOutput(serializers.Serializer):
    paid = serializers.CharField()
    cost_to_serve = serializers.CharField()
    margin = serializers.CharField()
    margin_rate = serializers.CharField(allow_null=True)
    outcomes = serializers.IntegerField()
    value_delivered = serializers.CharField()
    roi = serializers.CharField(allow_null=True)
    effective_price_per_outcome = serializers.CharField(allow_null=True)


class SimulationRowOutput(serializers.Serializer):
    customer = serializers.CharField()
    period = serializers.CharField()
    currency = serializers.CharField()
    invoiced = serializers.CharField(allow_null=True, help_text="What the period's own invoice charged.")
    price_book = ScenarioOutput()
    tokens = ScenarioOutput()
    hybrid = ScenarioOutput()


def simulation_rows(organization: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The API's and the console page's rows: one function, one set of figures."""
    if values.get("customer"):
        try:
            customers = [customer_get(organization=organization, external_id=values["customer"])]
        except DomainError as exc:
            raise DomainError(exc.message, field="customer") from exc
    else:
        customers = list(customer_list(organization=organization))
    periods = [period_parse(p, field="periods") for p in values["periods"]]
    meters = {code: pk for pk, code in meter_codes(organization_id=organization.pk).items()}
    hybrid_in = values.get("hybrid") or {}
    spec = SimulationSpec(
        periods=periods, customers=customers, token_markup=values.get("token_markup", Decimal("0.5")),
        price_book=plan_from_input(organization=organization, data=values["price_book"])
        if values.get("price_book") else None,
        hybrid=HybridSpec(platform_fee=hybrid_in.get("platform_fee", Decimal(0)),
                          outcome_price_factor=hybrid_in.get("outcome_price_factor", Decimal("0.5")),
                          meters=meter_prices_from_input(meters, hybrid_in.get("meters", []), field="hybrid.meters")),
    )
    return [
        {"customer": r.customer, "period": r.period, "currency": r.currency,
         "invoiced": None if r.invoiced is None else round_money(r.invoiced, r.currency),
         **{key: figures.as_dict(r.currency) for key, figures in r.scenarios.items()}}
        for r in simulate(organization=organization, spec=spec)
    ]


class SimulationApi(APIView):
    @extend_schema(request=SimulationInput, responses={200: SimulationRowOutput(many=True)},
                   description="Recomputes past periods from stored events under per-token, price-book and hybrid "
                   "pricing. Reads only: no invoice changes.")
    def post(self, request: Request) -> Response:
        data = SimulationInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows = simulation_rows(organization_of(request), dict(data.validated_data))
        return Response(SimulationRowOutput(rows, many=True).data)


class EfficiencyRowOutput(serializers.Serializer):
    period = serializers.CharField()
    outcome_type = serializers.CharField()
    outcomes = serializers.IntegerField()
    tasks = serializers.IntegerField()
    tokens_per_outcome = serializers.CharField(allow_null=True)
    gpu_seconds_per_outcome = serializers.CharField(allow_null=True)
    cost_per_outcome = serializers.CharField(allow_null=True)
    cost = serializers.CharField()
    currency = serializers.CharField()
    failed_cost_share = serializers.CharField(allow_null=True, help_text="Failed tasks' cost / all cost, this period.")


class OutlierOutput(serializers.Serializer):
    customer = serializers.CharField()
    task_id = serializers.CharField()
    outcome_type = serializers.CharField()
    cost = serializers.CharField()
    median = serializers.CharField(help_text="The type's median cost per task in the period.")


class EfficiencyPeriodOutput(serializers.Serializer):
    period = serializers.CharField()
    currency = serializers.CharField()
    total_cost = serializers.CharField()
    failed_tasks = serializers.IntegerField(help_text="Tasks with usage and no standing outcome.")
    failed_cost = serializers.CharField()
    failed_cost_share = serializers.CharField(allow_null=True)
    types = EfficiencyRowOutput(many=True, help_text="Per outcome type: the CSV's rows.")
    outliers = OutlierOutput(many=True, help_text=f"Tasks over {OUTLIER_FACTOR}x their type's median, costliest "
                             f"first (at most {OUTLIERS_SHOWN}).")


PERIODS_PATTERN = r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])(,[2-9][0-9]{3}-(0[1-9]|1[0-2])){0,11}$"


class EfficiencyApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("periods", {"type": "string", "pattern": PERIODS_PATTERN},
                                                required=True, description="1 to 12 periods: YYYY-MM,YYYY-MM")],
                   responses=EfficiencyPeriodOutput(many=True))
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("periods") or ""
        periods = [period_parse(p.strip(), field="periods") for p in raw.split(",") if p.strip()]
        if not periods or len(periods) > 12:
            raise DomainError("Give 1 to 12 periods YYYY-MM, comma-separated.", field="periods")
        report = efficiency_report(organization=organization_of(request), periods=periods)
        header, rows = efficiency_rows(report)
        by_period: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_period.setdefault(str(row[0]), []).append(dict(zip(header, row, strict=True)))
        answer = [
            {"period": item.period.label, "currency": item.currency, "total_cost": item.total_cost,
             "failed_tasks": item.failed_tasks, "failed_cost": item.failed_cost,
             "failed_cost_share": item.failed_share, "types": by_period.get(item.period.label, []),
             "outliers": [vars(o) for o in item.outliers[:OUTLIERS_SHOWN]]}
            for item in report
        ]
        return Response(EfficiencyPeriodOutput(answer, many=True).data)


class GuardrailInput(serializers.Serializer):
    outcome = serializers.CharField(max_length=100)
    max_cost_share = DecimalStringField(positive=True, help_text="0.30: a task may cost 30% of its outcome's price.")


class GuardrailOutput(serializers.Serializer):
    outcome = serializers.CharField()
    max_cost_share = serializers.CharField()


class GuardrailApi(APIView):
    @extend_schema(request=GuardrailInput, responses={201: GuardrailOutput})
    def post(self, request: Request) -> Response:
        data = GuardrailInput(data=request.data)
        data.is_valid(raise_exception=True)
        guardrail_set(organization=organization_of(request), **data.validated_data)
        return Response(GuardrailOutput(data.validated_data).data, status=status.HTTP_201_CREATED)


class BudgetOutput(serializers.Serializer):
    task_id = serializers.CharField()
    outcome = serializers.CharField()
    cost_so_far = serializers.CharField()
    ceiling = serializers.CharField(allow_null=True, help_text="null: no guardrail for the outcome type.")
    within = serializers.BooleanField()
    currency = serializers.CharField()


class TaskBudgetApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("outcome", str, description="The outcome type the task works "
                                                "toward; default: its first outcome's type.")],
                   responses=BudgetOutput)
    def get(self, request: Request, external_id: str, task_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        budget = task_budget(customer=customer, task_id=task_id, outcome=request.query_params.get("outcome") or None)
        return Response({"task_id": budget.task_id, "outcome": budget.outcome,
                         "cost_so_far": decimal_str(budget.cost_so_far),
                         "ceiling": None if budget.ceiling is None else str(budget.ceiling), "within": budget.within,
                         "currency": budget.currency})
