from django.urls import path

from outcomes.api import disputes, verification, views

urlpatterns = [
    path("outcome-types", views.OutcomeTypeListApi.as_view(), name="outcome-type-list"),
    path("outcome-events", views.OutcomeEventListApi.as_view(), name="outcome-event-list"),
    path("outcome-events/<path:idempotency_key>/reverse", views.OutcomeEventReverseApi.as_view(),
         name="outcome-event-reverse"),
    path("outcome-events/<path:idempotency_key>/dispute", disputes.OutcomeDisputeApi.as_view(),
         name="outcome-event-dispute"),
    path("outcome-events/<path:idempotency_key>/evidence", verification.OutcomeEvidenceApi.as_view(),
         name="outcome-event-evidence"),
    path("outcome-events/<path:idempotency_key>/confirm", verification.OutcomeConfirmApi.as_view(),
         name="outcome-event-confirm"),
    path("outcome-events/<path:idempotency_key>/reject", verification.OutcomeRejectApi.as_view(),
         name="outcome-event-reject"),
    path("outcome-events/<path:idempotency_key>/evaluations", verification.OutcomeScoreApi.as_view(),
         name="outcome-event-evaluations"),
    path("outcome-confirmations", verification.OutcomesAwaitingApi.as_view(), name="outcome-confirmations"),
    path("verification-sources", verification.VerificationSourceListApi.as_view(), name="verification-source-list"),
    path("verification-sources/<str:code>/rotate-secret", verification.VerificationSourceRotateApi.as_view(),
         name="verification-source-rotate"),
    path("verification/<str:organization>/<str:source>", verification.VerificationCallbackApi.as_view(),
         name="verification-callback"),
    path("disputes", disputes.DisputeListApi.as_view(), name="dispute-list"),
    path("disputes/<int:dispute_id>/resolve", disputes.DisputeResolveApi.as_view(), name="dispute-resolve"),
]
