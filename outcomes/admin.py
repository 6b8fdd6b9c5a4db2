from django.contrib import admin

from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType


@admin.register(OutcomeType)
class OutcomeTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "price", "currency", "verification_window_hours", "value", "organization"]
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
