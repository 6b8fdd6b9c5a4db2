from django.contrib import admin
from django.http import HttpRequest

from outcomes.models import Dispute, OutcomeEvent, OutcomeEvidence, OutcomeTransition, OutcomeType, VerificationSource


@admin.register(OutcomeType)
class OutcomeTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "price", "currency", "verification_window_hours", "verification_methods", "value",
                    "organization"]
    list_filter = ["organization"]


@admin.register(OutcomeEvent)
class OutcomeEventAdmin(admin.ModelAdmin):
    list_display = ["idempotency_key", "customer", "outcome_type", "task_id", "timestamp", "status"]
    list_filter = ["organization", "status", "outcome_type"]
    search_fields = ["idempotency_key", "task_id"]
    raw_id_fields = ["customer", "outcome_type"]


@admin.register(OutcomeTransition)
class OutcomeTransitionAdmin(admin.ModelAdmin):
    list_display = ["outcome_event", "from_status", "to_status", "actor_label", "actor_user", "created_at"]
    list_filter = ["organization", "to_status"]
    raw_id_fields = ["outcome_event"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ["outcome_event", "status", "reason", "opened_by_label", "opened_at", "resolved_at"]
    list_filter = ["organization", "status"]
    raw_id_fields = ["outcome_event"]
    readonly_fields = ["status_before", "opened_at", "resolved_at"]


@admin.register(VerificationSource)
class VerificationSourceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "method", "organization", "created_at", "disabled_at"]
    list_filter = ["organization", "method"]
    # The secret signs callbacks: rotate it through the API, never read it off an admin page.
    exclude = ["secret_encrypted"]
    readonly_fields = ["created_at"]


@admin.register(OutcomeEvidence)
class OutcomeEvidenceAdmin(admin.ModelAdmin):
    """Evidence is a record (a trigger refuses updates): read-only here."""

    list_display = ["outcome_event", "method", "verdict", "score", "external_id", "actor_label", "recorded_at"]
    list_filter = ["organization", "method", "verdict"]
    raw_id_fields = ["outcome_event"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
