"""Request guards that answer before any view: input no view can hold becomes a 400 naming the parameter."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import get_resolver

from core.errors import DomainError

_NUL = "\x00"


def _nul_parameter(request: HttpRequest) -> str | None:
    """The name of the first part of the request's URL or form that holds a NUL character, if any."""
    if _NUL in request.path:
        return "path"
    for name, values in request.GET.lists():
        if _NUL in name or any(_NUL in value for value in values):
            return name.replace(_NUL, "\\u0000")
    # The portal's forms; the API takes JSON only (its parser checks strings for NUL itself).
    is_form = request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    if request.method == "POST" and is_form and not request.path.startswith("/api/"):
        for name, values in request.POST.lists():
            if _NUL in name or any(_NUL in value for value in values):
                return name.replace(_NUL, "\\u0000")
    return None


class RejectNulMiddleware:
    """A NUL byte (`%00`) in the path, a query value or a form value: 400, not a 500 from the database.

    PostgreSQL text cannot hold a NUL, so any lookup with one fails deep inside a view. The API answers
    in its JSON error shape (core.api.exceptions), pages with the site's 400 handler (`handler400`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        parameter = _nul_parameter(request)
        if parameter is None:
            return self.get_response(request)
        error = DomainError(f"{parameter} contains a NUL character (%00).", field=parameter)
        if request.path.startswith("/api/"):
            return JsonResponse(error.as_dict(), status=error.status)
        # Django calls a 400 handler as handler(request, exception); the stubs type it as request only.
        handler: Callable[..., HttpResponse] = get_resolver().resolve_error_handler(400)
        return handler(request, error)
