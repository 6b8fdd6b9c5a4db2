"""The portal's own error pages, DEBUG or not.

With DEBUG off Django answers through the handlers in config/urls.py (portal.views.errors). With DEBUG on
(the demo, development) it would show its technical pages instead, which hold settings and source code;
people on the portal get the portal's 404 and 500 pages either way, and the traceback still goes to the
log. The API (JSON errors of its own), the admin and static files are left alone.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse

from portal.views.errors import bad_request, not_found, server_error

logger = logging.getLogger("django.request")

_NOT_PAGES = ("/api/", "/admin/", "/static/")


def _is_page(request: HttpRequest) -> bool:
    return not request.path.startswith(_NOT_PAGES)


class PortalErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and _is_page(request)
            and not getattr(response, "portal_page", False)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or not _is_page(request):
            return None  # Django's handler500 (portal.views.errors.server_error) answers
        if isinstance(exception, Http404 | PermissionDenied):
            return None  # handler403, and the 404 page above
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return bad_request(request, exception)
        logger.error("Internal Server Error: %s", request.path, exc_info=exception)
        return server_error(request)
