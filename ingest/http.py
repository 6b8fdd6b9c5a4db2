"""Pieces shared by the ingestion endpoints of metering and outcomes."""

from collections.abc import Callable
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.parsers import BaseParser
from rest_framework.views import APIView

from accounts.api.authentication import ApiKeyAuthentication, ingesting_organization_id
from core.api.exceptions import DATABASE_AWAY, ErrorSerializer, exception_handler
from core.errors import DomainError
from ingest.body import read_body
from ingest.validate import BatchResult


class RawJsonParser(BaseParser):
    """Leaves the body unread so the ingestion path can validate the raw bytes in one pass."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict[str, Any]:
        return {}


BatchResultSerializer = inline_serializer(
    name="BatchResult",
    fields={
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)


def batch_schema(*, event_fields: dict[str, serializers.Field], example: dict[str, Any]) -> Any:
    events = inline_serializer(name=f"{example['_name']}Event", fields=event_fields, many=True)
    body = inline_serializer(name=f"{example['_name']}Batch", fields={"events": events})
    error = OpenApiResponse(ErrorSerializer)
    return extend_schema(
        request=body,
        responses={
            200: OpenApiResponse(BatchResultSerializer, description="Every event accounted for: accepted, "
                                 "duplicates (a known idempotency key) and rejected ({index, errors})."),
            400: OpenApiResponse(ErrorSerializer, description="Not a batch: bad JSON or gzip, or no events list."),
            401: error, 403: error,
            413: OpenApiResponse(ErrorSerializer, description="More than 1,000 events, or a body over the limit."),
            503: OpenApiResponse(ErrorSerializer, description="The database is away for a moment; "
                                 "send the same batch again after Retry-After seconds."),
        },
        examples=[OpenApiExample("batch", value={"events": [example["event"]]}, request_only=True)],
        description="Up to 1,000 events; gzip bodies accepted (Content-Encoding: gzip). Valid events are "
        "stored even when others are rejected; a known idempotency key counts as a duplicate.",
    )


def batch_post(request: HttpRequest, ingest: Callable[..., BatchResult]) -> HttpResponse:
    """Answer the POST of a batch without DRF's request wrapping, content negotiation and renderers.

    The ingestion hot path: per 1,000-event batch these cost about a millisecond, a quarter of the
    worker's time. Authentication, permission and the shape of every error are the API views' own
    (ApiKeyAuthentication, HasOrganization, core.api.exceptions).
    """
    try:
        organization_id = ingesting_organization_id(request)
        result = ingest(organization_id=organization_id, body=read_body(request))
    except DomainError as exc:
        response = _json(exc.as_dict(), exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    except (exceptions.APIException, *DATABASE_AWAY) as exc:  # the database away: 503 with Retry-After
        answer = exception_handler(exc, {})
        assert answer is not None  # every APIException and database error has an answer
        response = _json(answer.data, answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() != "content-type":
                response[name] = value
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response["WWW-Authenticate"] = ApiKeyAuthentication().authenticate_header(request)  # as APIView does
        return response
    return _json(result.as_dict(), 200)


class BatchPostApiView(APIView):
    """An event list (GET, through DRF) whose POST of a batch is answered by `batch_post` with `ingest`.

    Subclasses keep a `post` method with the batch schema for the OpenAPI document; dispatch answers
    the POST before DRF wraps the request.
    """

    parser_classes = [RawJsonParser]
    ingest: Callable[..., BatchResult]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":  # the ingestion hot path skips DRF's request machinery
            return batch_post(request, type(self).ingest)
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: Any) -> HttpResponse:
        return batch_post(request._request, type(self).ingest)


def _json(data: Any, status: int) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")
