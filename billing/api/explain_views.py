"""The event debugger's traces over HTTP: thin views over billing.explain."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from billing.explain import outcome_event_trace, usage_event_trace
from metering.api.views import UsageEventOutput
from outcomes.api.verification import OutcomeProofOutput


class TraceInvoiceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    period = serializers.CharField()


class TraceLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()


class TraceBillingLineOutput(serializers.Serializer):
    invoice = TraceInvoiceOutput()
    line = TraceLineOutput()


class TraceBillingOutput(serializers.Serializer):
    lines = TraceBillingLineOutput(many=True)
    reason = serializers.CharField(
        allow_null=True, help_text="Why no line: no_task_id, task_has_no_billable_outcome, period_not_billed, "
        "pending, reversed, disputed.",
    )
    detail = serializers.CharField(allow_null=True)


class TraceRateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    dimensions = serializers.DictField()
    unit_cost = serializers.CharField()
    per = serializers.CharField()
    currency = serializers.CharField()
    effective_from = serializers.DateTimeField()


class TraceRateMatchOutput(serializers.Serializer):
    matched = serializers.BooleanField()
    reason = serializers.CharField(
        allow_null=True, help_text="no_rate_for_meter, no_rate_effective or no_rate_matching_dimensions."
    )
    detail = serializers.CharField(allow_null=True)
    rate = TraceRateOutput(allow_null=True)
    cost = serializers.CharField(allow_null=True, help_text="quantity × unit_cost / per, in the rate's currency.")


class UsageEventTraceOutput(serializers.Serializer):
    event = UsageEventOutput()
    rate = TraceRateMatchOutput()
    task_id = serializers.CharField(allow_null=True)
    billing = TraceBillingOutput()


class TraceOutcomeEventOutput(serializers.Serializer):
    idempotency_key = serializers.CharField()
    customer = serializers.CharField()
    outcome = serializers.CharField()
    task_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    status = serializers.CharField()
    verifiable_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField()


class TraceTransitionOutput(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField()
    at = serializers.DateTimeField()


class OutcomeEventTraceOutput(serializers.Serializer):
    event = TraceOutcomeEventOutput()
    history = TraceTransitionOutput(many=True)
    evidence = OutcomeProofOutput(help_text="How the outcome was verified: its assurance and evidence.")
    billing = TraceBillingOutput()


class UsageEventTraceApi(APIView):
    @extend_schema(responses=UsageEventTraceOutput, description="Whether the event matched a rate and "
                   "which, its cost, the task it fed and the invoice lines of that task, or why not.")
    def get(self, request: Request, idempotency_key: str) -> Response:
        trace = usage_event_trace(organization=organization_of(request), idempotency_key=idempotency_key)
        return Response(UsageEventTraceOutput(trace).data)


class OutcomeEventTraceApi(APIView):
    @extend_schema(responses=OutcomeEventTraceOutput, description="The outcome's status history and the "
                   "invoice line that billed it, or why none did.")
    def get(self, request: Request, idempotency_key: str) -> Response:
        trace = outcome_event_trace(organization=organization_of(request), idempotency_key=idempotency_key)
        return Response(OutcomeEventTraceOutput(trace).data)
