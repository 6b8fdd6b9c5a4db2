from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from accounts.selectors import customer_get
from core.api.cursor import EventQuery, cursor_decode, event_page_schema, page_response
from core.api.fields import CodeField, CurrencyField, DecimalStringField, decimal_str, json_without_nul
from core.errors import NotFound
from ingest.http import BatchPostApiView, batch_schema
from metering.ingestion import usage_events_ingest
from metering.models import UNIQUE_PROPERTY_PATTERN, Meter, Rate
from metering.selectors import usage_event_data, usage_event_page, usage_summary
from metering.services import meter_create, rate_create


class MeterInput(serializers.Serializer):
    code = CodeField()
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=50)
    aggregation = serializers.ChoiceField(choices=Meter.Aggregation.choices)
    unique_property = serializers.RegexField(UNIQUE_PROPERTY_PATTERN, max_length=100, required=False, default="")


class MeterOutput(serializers.ModelSerializer):
    class Meta:
        model = Meter
        fields = ["code", "name", "unit", "aggregation", "unique_property", "created_at"]

    # The model's SlugField would document a pattern without the "." and ":" a code may have (CodeField).
    code = serializers.CharField()
    # The model field's schema is oneOf(pattern, empty), which "" matches twice: one string says it.
    unique_property = serializers.CharField(help_text=Meter._meta.get_field("unique_property").help_text)


class MeterListApi(APIView):
    @extend_schema(responses=MeterOutput(many=True))
    def get(self, request: Request) -> Response:
        meters = Meter.objects.filter(organization=organization_of(request)).order_by("code")
        return Response(MeterOutput(meters, many=True).data)

    @extend_schema(request=MeterInput, responses={201: MeterOutput})
    def post(self, request: Request) -> Response:
        data = MeterInput(data=request.data)
        data.is_valid(raise_exception=True)
        meter = meter_create(organization=organization_of(request), **data.validated_data)
        return Response(MeterOutput(meter).data, status=status.HTTP_201_CREATED)


class RateInput(serializers.Serializer):
    meter = serializers.CharField(max_length=100)
    dimensions = serializers.DictField(required=False, default=dict, validators=[json_without_nul])
    unit_cost = DecimalStringField(min_value=0)
    per = DecimalStringField(positive=True, required=False, default=Decimal(1))
    currency = CurrencyField()
    effective_from = serializers.DateTimeField()


class RateOutput(serializers.ModelSerializer):
    meter = serializers.CharField(source="meter.code")
    unit_cost = serializers.SerializerMethodField()
    per = serializers.SerializerMethodField()

    class Meta:
        model = Rate
        fields = ["id", "meter", "dimensions", "unit_cost", "per", "currency", "effective_from", "created_at"]

    def get_unit_cost(self, rate: Rate) -> str:
        return decimal_str(rate.unit_cost)

    def get_per(self, rate: Rate) -> str:
        return decimal_str(rate.per)


class RateListApi(APIView):
    @extend_schema(responses=RateOutput(many=True))
    def get(self, request: Request) -> Response:
        rates = Rate.objects.filter(organization=organization_of(request)).select_related("meter")
        return Response(RateOutput(rates.order_by("meter__code", "effective_from", "pk"), many=True).data)

    @extend_schema(request=RateInput, responses={201: RateOutput})
    def post(self, request: Request) -> Response:
        data = RateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        rate = rate_create(organization=organization_of(request), meter_code=values.pop("meter"), **values)
        return Response(RateOutput(rate).data, status=status.HTTP_201_CREATED)


class UsageEventQuery(EventQuery):
    meter = serializers.CharField(max_length=100, required=False)


class UsageEventOutput(serializers.Serializer):
    idempotency_key = serializers.CharField()
    customer = serializers.CharField()
    meter = serializers.CharField()
    quantity = serializers.CharField()
    timestamp = serializers.DateTimeField()
    task_id = serializers.CharField(allow_null=True)
    properties = serializers.DictField()
    received_at = serializers.DateTimeField()


class UsageEventListApi(BatchPostApiView):
    ingest = staticmethod(usage_events_ingest)

    @event_page_schema(UsageEventQuery, UsageEventOutput(many=True), "UsageEvent")
    def get(self, request: Request) -> Response:
        query = UsageEventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = organization_of(request)
        customer = customer_get(organization=organization, external_id=params["customer"])
        meters = dict(Meter.objects.filter(organization=organization).values_list("id", "code"))
        meter_id = None
        if "meter" in params:
            meter_id = next((pk for pk, code in meters.items() if code == params["meter"]), None)
            if meter_id is None:
                raise NotFound(f"No meter with code {params['meter']!r}.", field="meter")
        after = cursor_decode(params["cursor"]) if "cursor" in params else None
        rows = usage_event_page(
            organization_id=organization.pk, customer_id=customer.pk, task_id=params.get("task_id"),
            meter_id=meter_id, start=params.get("from"), end=params.get("to"), after=after, limit=params["limit"],
        )
        results = [
            usage_event_data(event, customer=customer.external_id, meter=meters.get(event.meter_id, ""))
            for event in rows[: params["limit"]]
        ]
        return page_response(request, rows, params["limit"], results)

    @batch_schema(
        event_fields={
            "idempotency_key": serializers.CharField(), "customer": serializers.CharField(),
            "meter": serializers.CharField(), "quantity": serializers.CharField(),
            "timestamp": serializers.DateTimeField(), "task_id": serializers.CharField(required=False),
            "properties": serializers.DictField(required=False),
        },
        example={"_name": "Usage", "event": {
            "idempotency_key": "req-8f2c-in", "customer": "acme", "meter": "llm_tokens", "quantity": "1250",
            "timestamp": "2026-11-03T10:15:00Z", "task_id": "ticket-4711",
            "properties": {"model": "gpt-4o", "direction": "input"},
        }},
    )
    def post(self, request: Request) -> HttpResponse:  # documents the POST that dispatch answers
        return super().post(request)


QUANTITY_HELP = "The events' quantities aggregated the meter's way: sum, count, max, latest or unique count."


class MeterUsageOutput(serializers.Serializer):
    meter = serializers.CharField()
    unit = serializers.CharField()
    events_today = serializers.IntegerField()
    quantity_today = serializers.CharField(help_text=QUANTITY_HELP)
    events_period = serializers.IntegerField()
    quantity_period = serializers.CharField(help_text=QUANTITY_HELP)
    last_event_at = serializers.DateTimeField(allow_null=True)


class CustomerUsageSummaryApi(APIView):
    @extend_schema(
        responses=inline_serializer(name="UsageSummary", fields={
            "customer": serializers.CharField(), "today": serializers.DateField(),
            "period": serializers.CharField(), "meters": MeterUsageOutput(many=True),
        }),
        description="Per meter: events and quantity today and this calendar month (UTC), and the last event.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        organization = organization_of(request)
        customer = customer_get(organization=organization, external_id=external_id)
        summary = usage_summary(organization_id=organization.pk, customer_id=customer.pk, now=timezone.now())
        meters = [
            {
                "meter": row.meter.code, "unit": row.meter.unit, "events_today": row.events_today,
                "quantity_today": decimal_str(row.quantity_today), "events_period": row.events_period,
                "quantity_period": decimal_str(row.quantity_period), "last_event_at": row.last_event_at,
            }
            for row in summary.meters
        ]
        return Response({
            "customer": customer.external_id, "today": summary.today, "period": summary.period.label,
            "meters": MeterUsageOutput(meters, many=True).data,
        })
