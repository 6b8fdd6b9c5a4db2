"""A URL conf for the error-page tests: the real one plus a view that crashes."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as real_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the database went away")


urlpatterns = [path("boom/", boom), *real_urlpatterns]

handler404 = "portal.views.errors.not_found"
handler500 = "portal.views.errors.server_error"
