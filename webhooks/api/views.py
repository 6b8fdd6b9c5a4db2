"""API: the organization's webhook endpoints, their delivery log, and resending a delivery."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from core.api.exceptions import ErrorSerializer
from webhooks.events import EVENT_CHOICES, EVENT_DESCRIPTIONS, EventType
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import delivery_get, delivery_list, endpoint_get, endpoint_list
from webhooks.services.endpoints import delivery_resend, endpoint_create, endpoint_delete, endpoint_update

URL_HELP = ("http(s) URL that receives the POSTs. Its host must resolve to public addresses only (checked now "
            "and at every delivery), unless the server allows private networks.")


class EventsField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.ChoiceField(choices=EVENT_CHOICES))
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", len(EVENT_CHOICES))
        kwargs.setdefault("help_text", "Event types to receive.")
        super().__init__(**kwargs)


class EndpointInput(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text=URL_HELP)
    events = EventsField()
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EndpointPatch(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False, help_text=URL_HELP)
    events = EventsField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False, help_text="Turn deliveries off or back on.")


class EndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "enabled", "disabled_reason", "disabled_at", "created_at",
                  "updated_at"]


class EndpointCreated(EndpointOutput):
    secret = serializers.CharField(help_text="The signing secret (Standard Webhooks, `whsec_…`). Shown only now.")

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "status_code", "latency_ms", "succeeded", "response_excerpt", "error"]


class DeliveryOutput(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.event_id", help_text="The `webhook-id` header: dedupe on it.")
    event_type = serializers.ChoiceField(source="event.type", choices=EVENT_CHOICES)
    attempt_log = AttemptOutput(many=True, help_text="Every attempt, oldest first.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_attempt_at",
                  "last_status_code", "created_at", "attempt_log"]


class DeliveryQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    before = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                      help_text="`next_before` of the previous page.")
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


DeliveryPage = inline_serializer(name="WebhookDeliveryPage", fields={
    "results": DeliveryOutput(many=True),
    "next_before": serializers.IntegerField(allow_null=True, help_text="Pass as `before` for the next page."),
})
NOT_FOUND = {404: ErrorSerializer}


class EndpointListApi(APIView):
    @extend_schema(responses=EndpointOutput(many=True), tags=["webhooks"])
    def get(self, request: Request) -> Response:
        return Response(EndpointOutput(endpoint_list(organization=organization_of(request)), many=True).data)

    @extend_schema(request=EndpointInput, responses={201: EndpointCreated}, tags=["webhooks"],
                   description="Subscribe an endpoint. The answer carries its signing `secret`, shown only once.")
    def post(self, request: Request) -> Response:
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_create(organization=organization_of(request), **data.validated_data)
        return Response(EndpointCreated(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(APIView):
    @extend_schema(responses={200: EndpointOutput, **NOT_FOUND}, tags=["webhooks"])
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointOutput(endpoint_get(organization=organization_of(request),
                                                    endpoint_id=endpoint_id)).data)

    @extend_schema(request=EndpointPatch, responses={200: EndpointOutput, **NOT_FOUND}, tags=["webhooks"],
                   description="Change the URL, events or description, or disable/enable the endpoint.")
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = endpoint_get(organization=organization_of(request), endpoint_id=endpoint_id)
        data = EndpointPatch(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None, **NOT_FOUND}, tags=["webhooks"])
    def delete(self, request: Request, endpoint_id: int) -> Response:
        endpoint_delete(endpoint=endpoint_get(organization=organization_of(request), endpoint_id=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListApi(APIView):
    @extend_schema(parameters=[DeliveryQuery], responses={200: DeliveryPage, **NOT_FOUND}, tags=["webhooks"],
                   description="The endpoint's delivery log, newest first: status, attempts with status code, "
                               "latency and an excerpt of the answer.")
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = endpoint_get(organization=organization_of(request), endpoint_id=endpoint_id)
        query = DeliveryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        rows = delivery_list(endpoint=endpoint, status=query.validated_data.get("status"),
                             before_id=query.validated_data.get("before"), limit=limit)
        next_before = rows[limit - 1].pk if len(rows) > limit else None
        return Response({"results": DeliveryOutput(rows[:limit], many=True).data, "next_before": next_before})


class DeliveryResendApi(APIView):
    @extend_schema(request=None, responses={202: DeliveryOutput, 409: ErrorSerializer, **NOT_FOUND},
                   tags=["webhooks"],
                   description="Send the delivery again, with the same event id, on a fresh retry schedule. "
                               "409 when the endpoint is disabled.")
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        endpoint = endpoint_get(organization=organization_of(request), endpoint_id=endpoint_id)
        delivery_resend(delivery=delivery_get(endpoint=endpoint, delivery_id=delivery_id))
        return Response(DeliveryOutput(delivery_get(endpoint=endpoint, delivery_id=delivery_id)).data,
                        status=status.HTTP_202_ACCEPTED)


class EventTypeListApi(APIView):
    @extend_schema(responses=inline_serializer(name="WebhookEventType", many=True, fields={
        "type": serializers.ChoiceField(choices=EVENT_CHOICES), "description": serializers.CharField()}),
        tags=["webhooks"])
    def get(self, request: Request) -> Response:
        return Response([{"type": event.value, "description": EVENT_DESCRIPTIONS[event]} for event in EventType])

