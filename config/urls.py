from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import health

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("metering.api.urls")),
    path("", include("outcomes.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("billing.api.explain_urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("portal.urls")),
]

handler400 = "portal.views.errors.bad_request"
handler404 = "portal.views.errors.not_found"
handler500 = "portal.views.errors.server_error"
handler403 = "portal.views.errors.forbidden"
