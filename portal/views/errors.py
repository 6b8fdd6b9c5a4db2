from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.errors import DomainError


def _error(request: HttpRequest, status: int, title: str, message: str, *, bare: bool = False) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": title.lower().replace(" ", "_"), "detail": message}, status=status)
    # `bare` leaves out what needs the session or the database (the user's menu, queued messages): a 500
    # page must render when the database is what broke.
    response = render(
        request,
        "portal/error.html",
        {"status": status, "title": title, "message": message, "bare": bare},
        status=status,
    )
    response.portal_page = True  # type: ignore[attr-defined]  # read by portal.middleware
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A DomainError's message names the field at fault; other causes (a SuspiciousOperation) stay unsaid.
    message = exception.message if isinstance(exception, DomainError) else "The request could not be understood."
    return _error(request, 400, "Bad request", message)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found", "There is nothing here, or it is not yours to see.")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Forbidden", "Your account may not open this page.")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, "Server error", "Something broke on our side; it has been logged.", bare=True)
