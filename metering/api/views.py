from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from config.api import RawJsonParser, batch_schema
from config.fields import CurrencyField, DecimalStringField, decimal_str
from config.ingest import read_body
from metering.models import Meter, Rate
from metering.services import meter_create, rate_create, usage_events_ingest


class MeterInput(serializers.Serializer):
    code = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=50)
    aggregation = serializers.ChoiceField(choices=Meter.Aggregation.choices)
    unique_property = serializers.RegexField(r"^[A-Za-z0-9_.-]*$", max_length=100, required=False, default="")


class MeterOutput(serializers.ModelSerializer):
    class Meta:
        model = Meter
        fields = ["code", "name", "unit", "aggregation", "unique_property", "created_at"]


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
    dimensions = serializers.DictField(required=False, default=dict)
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


class UsageEventListApi(APIView):
    parser_classes = [RawJsonParser]

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
    def post(self, request: Request) -> Response:
        result = usage_events_ingest(organization_id=organization_of(request).pk, body=read_body(request))
        return Response(result.as_dict())
