
from django.db.models import Q
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import api_actor_label, organization_of
from accounts.selectors import customer_get
from core.api.cursor import EventQuery, cursor_decode, event_page_schema, page_response
from core.api.fields import CodeField, CurrencyField, DecimalStringField, decimal_str
from core.errors import NotFound
from ingest.http import BatchPostApiView, batch_schema
from outcomes.enums import VerificationMethod
from outcomes.ingestion import outcome_events_ingest
from outcomes.models import OutcomeEvent, OutcomeType
from outcomes.selectors import outcome_event_list
from outcomes.services import outcome_event_reverse, outcome_type_create


class OutcomeTypeInput(serializers.Serializer):
    code = CodeField()
    name = serializers.CharField(max_length=200)
    # price and value are numeric(20, 6) columns: 14 integer digits.
    price = DecimalStringField(min_value=0, integer_digits=14)
    currency = CurrencyField()
    verification_window_hours = serializers.IntegerField(min_value=0, max_value=24 * 366, default=0)
    value = DecimalStringField(min_value=0, integer_digits=14)
    verification_methods = serializers.ListField(
        child=serializers.ChoiceField(choices=VerificationMethod.choices), min_length=1, max_length=4,
        required=False, default=[VerificationMethod.WINDOW],
        help_text="How outcomes are verified; any one suffices (docs/proof.md).")
    silence_is_consent = serializers.BooleanField(
        required=False, default=False, help_text="customer_confirmation: the window passing verifies (assumed).")
    # evaluator_threshold is a numeric(12, 6) column: 6 integer digits.
    evaluator_threshold = DecimalStringField(integer_digits=6, required=False, allow_null=True, default=None,
                                             help_text="Required with the evaluator method.")


class OutcomeTypeOutput(serializers.ModelSerializer):
    # The model's SlugField would document a pattern without the "." and ":" a code may have (CodeField).
    code = serializers.CharField()
    price = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField(method_name="value_text")  # get_value is a Field method
    verification_methods = serializers.ListField(child=serializers.ChoiceField(choices=VerificationMethod.choices),
                                                 source="methods")
    evaluator_threshold = serializers.SerializerMethodField()

    class Meta:
        model = OutcomeType
        fields = ["code", "name", "price", "currency", "verification_window_hours", "value", "verification_methods",
                  "silence_is_consent", "evaluator_threshold", "created_at"]

    def get_evaluator_threshold(self, outcome_type: OutcomeType) -> str | None:
        threshold = outcome_type.evaluator_threshold
        return None if threshold is None else decimal_str(threshold)

    def get_price(self, outcome_type: OutcomeType) -> str:
        return decimal_str(outcome_type.price)

    def value_text(self, outcome_type: OutcomeType) -> str:
        return decimal_str(outcome_type.value)


class OutcomeTypeListApi(APIView):
    @extend_schema(responses=OutcomeTypeOutput(many=True))
    def get(self, request: Request) -> Response:
        types = OutcomeType.objects.filter(organization=organization_of(request)).order_by("code")
        return Response(OutcomeTypeOutput(types, many=True).data)

    @extend_schema(request=OutcomeTypeInput, responses={201: OutcomeTypeOutput})
    def post(self, request: Request) -> Response:
        data = OutcomeTypeInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcome_type = outcome_type_create(organization=organization_of(request), **data.validated_data)
        return Response(OutcomeTypeOutput(outcome_type).data, status=status.HTTP_201_CREATED)


class OutcomeEventOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    outcome = serializers.CharField(source="outcome_type.code")

    class Meta:
        model = OutcomeEvent
        fields = ["idempotency_key", "customer", "outcome", "task_id", "timestamp", "status", "properties",
                  "received_at", "verifiable_at", "verified_by", "confirmed_at", "reversed_at", "reversal_reason"]


class OutcomeEventQuery(EventQuery):
    outcome = serializers.CharField(max_length=100, required=False)
    status = serializers.ChoiceField(choices=OutcomeEvent.Status.choices, required=False)


class OutcomeEventListApi(BatchPostApiView):
    ingest = staticmethod(outcome_events_ingest)

    @event_page_schema(OutcomeEventQuery, OutcomeEventOutput(many=True), "OutcomeEvent")
    def get(self, request: Request) -> Response:
        query = OutcomeEventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = organization_of(request)
        customer = customer_get(organization=organization, external_id=params["customer"])
        events = outcome_event_list(organization_id=organization.pk).filter(customer=customer)
        if "outcome" in params:
            outcome_type = OutcomeType.objects.filter(organization=organization, code=params["outcome"]).first()
            if outcome_type is None:
                raise NotFound(f"No outcome type with code {params['outcome']!r}.", field="outcome")
            events = events.filter(outcome_type=outcome_type)
        for name, lookup in [("task_id", "task_id"), ("status", "status"), ("from", "timestamp__gte"),
                             ("to", "timestamp__lt")]:
            if name in params:
                events = events.filter(**{lookup: params[name]})
        if "cursor" in params:
            moment, row_id = cursor_decode(params["cursor"])
            events = events.filter(Q(timestamp__lt=moment) | Q(timestamp=moment, pk__lt=row_id))
        limit = params["limit"]
        rows = list(events.order_by("-timestamp", "-pk")[: limit + 1])
        return page_response(request, rows, limit, OutcomeEventOutput(rows[:limit], many=True).data)

    @batch_schema(
        event_fields={
            "idempotency_key": serializers.CharField(), "customer": serializers.CharField(),
            "outcome": serializers.CharField(), "task_id": serializers.CharField(),
            "timestamp": serializers.DateTimeField(), "properties": serializers.DictField(required=False),
        },
        example={"_name": "Outcome", "event": {
            "idempotency_key": "ticket-4711-resolved", "customer": "acme", "outcome": "ticket_resolved",
            "task_id": "ticket-4711", "timestamp": "2026-11-03T10:20:00Z",
        }},
    )
    def post(self, request: Request) -> HttpResponse:  # documents the POST that dispatch answers
        return super().post(request)


class ReverseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class OutcomeEventReverseApi(APIView):
    @extend_schema(request=ReverseInput, responses=OutcomeEventOutput)
    def post(self, request: Request, idempotency_key: str) -> Response:
        data = ReverseInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = outcome_event_reverse(
            organization=organization_of(request), idempotency_key=idempotency_key,
            reason=data.validated_data["reason"], actor_label=api_actor_label(request),
        )
        return Response(OutcomeEventOutput(event).data)
