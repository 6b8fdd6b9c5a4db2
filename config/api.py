"""Pieces shared by the ingestion endpoints of metering and outcomes."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser


class RawJsonParser(BaseParser):
    """Leaves the body unread so the ingestion path can validate the raw bytes in one pass."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> None:
        return None


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
    return extend_schema(
        request=body,
        responses={200: BatchResultSerializer},
        examples=[OpenApiExample("batch", value={"events": [example["event"]]}, request_only=True)],
        description="Up to 1,000 events; gzip bodies accepted (Content-Encoding: gzip). Valid events are "
        "stored even when others are rejected; a known idempotency key counts as a duplicate.",
    )
