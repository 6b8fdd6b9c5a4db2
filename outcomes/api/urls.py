from django.urls import path

from outcomes.api import disputes, views

urlpatterns = [
    path("outcome-types", views.OutcomeTypeListApi.as_view(), name="outcome-type-list"),
    path("outcome-events", views.OutcomeEventListApi.as_view(), name="outcome-event-list"),
    path("outcome-events/<path:idempotency_key>/reverse", views.OutcomeEventReverseApi.as_view(),
         name="outcome-event-reverse"),
    path("outcome-events/<path:idempotency_key>/dispute", disputes.OutcomeDisputeApi.as_view(),
         name="outcome-event-dispute"),
    path("disputes", disputes.DisputeListApi.as_view(), name="dispute-list"),
    path("disputes/<int:dispute_id>/resolve", disputes.DisputeResolveApi.as_view(), name="dispute-resolve"),
]
