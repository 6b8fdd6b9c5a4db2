"""API: disputes of outcomes (opened for a customer, decided by the vendor)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import api_actor_label, organization_of
from core.errors import DomainError
from outcomes.models import Dispute
from outcomes.services import dispute_resolve, outcome_event_dispute


class DisputeOutput(serializers.ModelSerializer):
    outcome_event = serializers.CharField(source="outcome_event.idempotency_key")
    customer = serializers.CharField(source="outcome_event.customer.external_id")
    task_id = serializers.CharField(source="outcome_event.task_id")

    class Meta:
        model = Dispute
        fields = ["id", "outcome_event", "customer", "task_id", "status", "reason", "status_before",
                  "opened_by_label", "opened_at", "resolution_note", "resolved_by_label", "resolved_at"]


class DisputeOpenInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class DisputeResolveInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class OutcomeDisputeApi(APIView):
    @extend_schema(request=DisputeOpenInput, responses={201: DisputeOutput})
    def post(self, request: Request, idempotency_key: str) -> Response:
        data = DisputeOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = outcome_event_dispute(
            organization=organization_of(request), idempotency_key=idempotency_key,
            reason=data.validated_data["reason"], actor_label=api_actor_label(request),
        )
        return Response(DisputeOutput(dispute).data, status=status.HTTP_201_CREATED)


class DisputeListApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("status", str, enum=["open", "accepted", "rejected"])],
                   responses=DisputeOutput(many=True))
    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        # The outcome joined by both columns of its key (outcomes 0006).
        disputes = Dispute.objects.filter(organization=organization, outcome_event__organization=organization
                                          ).select_related("outcome_event__customer")
        status_filter = request.query_params.get("status")
        if status_filter:
            if status_filter not in Dispute.Status.values:
                raise DomainError(f"status must be one of {', '.join(Dispute.Status.values)}.", field="status")
            disputes = disputes.filter(status=status_filter)
        return Response(DisputeOutput(disputes.order_by("-opened_at")[:500], many=True).data)


class DisputeResolveApi(APIView):
    @extend_schema(request=DisputeResolveInput, responses=DisputeOutput)
    def post(self, request: Request, dispute_id: int) -> Response:
        data = DisputeResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = dispute_resolve(
            organization=organization_of(request), dispute_id=dispute_id,
            accept=data.validated_data["decision"] == "accept", note=data.validated_data["note"],
            actor_label=api_actor_label(request),
        )
        return Response(DisputeOutput(dispute).data)
