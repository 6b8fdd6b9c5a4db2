"""Ops views of the outbox, endpoints and deliveries. The outbox and the delivery log are records, so
read-only; an endpoint's signing secret is never shown (the vendor saw it once, at creation)."""

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from webhooks.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "organization", "created_at", "relayed_at"]
    list_filter = ["type", "organization"]
    search_fields = ["event_id", "once_key"]
    date_hierarchy = "created_at"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "organization", "enabled", "disabled_at", "created_at"]
    list_filter = ["enabled", "organization"]
    search_fields = ["url", "description"]
    exclude = ["secret_encrypted"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["organization", "disabled_at", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # subscribing makes and shows the secret: the console or the API


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "status_code", "latency_ms", "succeeded", "response_excerpt", "error"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "next_attempt_at", "last_status_code"]
    list_filter = ["status"]
    search_fields = ["event__event_id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    inlines = [AttemptInline]
