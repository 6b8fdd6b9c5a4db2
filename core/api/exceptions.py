"""The one place where errors become HTTP answers for the API."""

from typing import Any

import psycopg
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, connections
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, ErrorCode, PayloadTooLarge, ServiceUnavailable

# The database is away (restarting, failing over, out of connections) or the connection to it broke.
# psycopg's own classes come from code that uses the raw connection, past Django's error wrapper.
DATABASE_AWAY = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
# A restart takes a few seconds; asking again sooner only adds load while the database comes back.
DATABASE_RETRY_AFTER_SECONDS = 2


def database_unavailable() -> ServiceUnavailable:
    """The answer while the database is away, after letting go of the broken connections: Django
    opens a fresh one for the next query (here or in the next request) instead of reusing a dead one."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
            connection.close()
    return ServiceUnavailable("The database is unavailable for a moment; try again.",
                              retry_after=DATABASE_RETRY_AFTER_SECONDS)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DATABASE_AWAY):
        exc = database_unavailable()
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status, headers=exc.headers)
    if isinstance(exc, RequestDataTooBig):  # a form body over DATA_UPLOAD_MAX_MEMORY_SIZE, read by Django
        too_large = PayloadTooLarge("The body is over the upload limit.", field="body")
        return Response(too_large.as_dict(), status=too_large.status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "errors": detail}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"code": "invalid", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"code": code, "detail": str(response.data["detail"])}
    return response


# The error body of every API answer, for the OpenAPI document.
ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(help_text="Stable: " + ", ".join(ErrorCode) + ", not_authenticated, "
                                                "authentication_failed, permission_denied."),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(required=False, help_text="The field at fault and what is wrong with it."),
    },
)
