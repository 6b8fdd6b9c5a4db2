"""Every write of a request is grouped under one audit context: the user (id and name) and the URL.

API requests add their key in ApiKeyAuthentication. GET requests change nothing we audit and open no
context (no per-query cost); ingestion POSTs write no audited table, and the context costs nothing
until a trigger fires.
"""

from typing import Any

from django.http import HttpRequest
from pghistory.middleware import HistoryMiddleware


class AuditContextMiddleware(HistoryMiddleware):
    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().get_context(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context["username"] = user.get_username()
            context["organization"] = getattr(user, "organization_id", None)
        return context
