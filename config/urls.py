from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("metering.api.urls")),
    path("", include("outcomes.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("billing.api.explain_urls")),
    path("", include("value.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("payments.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("webhooks/stripe/", include("payments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("portal.urls")),
]

handler400 = "portal.views.errors.bad_request"
handler404 = "portal.views.errors.not_found"
handler500 = "portal.views.errors.server_error"
handler403 = "portal.views.errors.forbidden"
