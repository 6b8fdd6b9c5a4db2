from django.urls import path

from outcomes.api import views

urlpatterns = [
    path("outcome-types", views.OutcomeTypeListApi.as_view(), name="outcome-type-list"),
    path("outcome-events", views.OutcomeEventListApi.as_view(), name="outcome-event-list"),
    path("outcome-events/<path:idempotency_key>/reverse", views.OutcomeEventReverseApi.as_view(),
         name="outcome-event-reverse"),
]
