"""The event debugger's cursor pagination: an opaque (timestamp, id) cursor, its query and its page."""

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

import orjson
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError

# The event debugger's cursor: the (timestamp, id) of the last row of a page, opaque to clients.

def cursor_encode(timestamp: datetime, row_id: int) -> str:
    raw = orjson.dumps([timestamp.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        timestamp, row_id = orjson.loads(raw)
        moment = datetime.fromisoformat(timestamp)
        # This API writes cursors in UTC; any other offset (+23:59 is one PostgreSQL refuses) is not ours.
        if moment.utcoffset() != timedelta(0) or not isinstance(row_id, int) or not 0 < row_id < 2**63:
            raise ValueError
        return moment, row_id
    except (ValueError, TypeError, orjson.JSONDecodeError, binascii.Error) as exc:
        raise DomainError("Not a cursor returned by this API.", field="cursor") from exc


class EventQuery(serializers.Serializer):
    """Filters of the event debugger's lists; `from` is inclusive, `to` exclusive."""

    customer = serializers.CharField(max_length=200, help_text="The customer's external_id.")
    task_id = serializers.CharField(max_length=200, required=False)
    locals()["from"] = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


def page_response(request: Request, rows: list[Any], limit: int, results: Any) -> Response:
    """A page of the newest-first list and, when more rows follow, the cursor and URL of the next one."""
    next_cursor = None
    next_url = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor_encode(last.timestamp, last.pk)
        params = request.query_params.copy()
        params["cursor"] = next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return Response({"results": results, "next_cursor": next_cursor, "next": next_url})


def event_page_schema(query: type[serializers.Serializer], item: serializers.Serializer, name: str) -> Any:
    return extend_schema(
        parameters=[query],
        responses=inline_serializer(name=f"{name}Page", fields={
            "results": item, "next_cursor": serializers.CharField(allow_null=True),
            "next": serializers.URLField(allow_null=True),
        }),
        description="The event debugger: newest first, by cursor. 404 names an unknown customer or code.",
    )
