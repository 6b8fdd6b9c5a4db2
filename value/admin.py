"""Admin: baselines, receipts, keys and alerts are written by services only (versions, sealed receipts),
so the admin reads them; a guardrail is configuration and may be edited."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from value.models import Baseline, BudgetAlert, MarginGuardrail, SigningKey, ValueReceipt


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Baseline)
class BaselineAdmin(ReadOnlyAdmin):
    list_display = ["customer", "outcome_type", "version", "effective_from", "method", "value_per_outcome", "currency",
                    "status", "decided_at"]
    list_filter = ["status", "method", "organization"]
    search_fields = ["customer__external_id", "customer__name", "outcome_type__code"]


@admin.register(ValueReceipt)
class ValueReceiptAdmin(ReadOnlyAdmin):
    list_display = ["customer", "period_start", "sequence", "reason", "content_hash", "issued_at"]
    list_filter = ["reason", "organization"]
    search_fields = ["customer__external_id", "content_hash"]
    exclude = ["share_token"]  # a capability: shown on the receipt page to those who may share it


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["organization", "version", "key_id", "created_at"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = ["customer", "task_id", "outcome_type", "cost", "ceiling", "currency", "created_at"]
    search_fields = ["task_id", "customer__external_id"]


@admin.register(MarginGuardrail)
class MarginGuardrailAdmin(admin.ModelAdmin):
    list_display = ["outcome_type", "max_cost_share", "organization", "updated_at"]
