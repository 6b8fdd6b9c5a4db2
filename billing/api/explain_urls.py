from django.urls import path

from billing.api import explain_views

# Keys may contain "/": <path:...> takes them whole, and the fixed "/trace" suffix ends the match.
urlpatterns = [
    path("usage-events/<path:idempotency_key>/trace", explain_views.UsageEventTraceApi.as_view(),
         name="usage-event-trace"),
    path("outcome-events/<path:idempotency_key>/trace", explain_views.OutcomeEventTraceApi.as_view(),
         name="outcome-event-trace"),
]
