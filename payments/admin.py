"""Ops' view of Stripe collection: read-only, secrets shown only as hints (the encrypted columns are not
even listed), and the push of an invoice can be sent again from the list."""

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from payments.models import CreditNotePush, InvoicePush, StripeAccount, StripeCustomer, StripeEvent
from payments.services.push import invoice_push_queue


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(StripeAccount)
class StripeAccountAdmin(ReadOnlyAdmin):
    """Connected and changed on the console's Stripe page (the key is checked there); never in clear here."""

    list_display = ["organization", "account_id", "secret_key_hint", "webhook_secret_hint", "livemode",
                    "automatic_tax", "checked_at"]
    fields = ["organization", "account_id", "account_name", "secret_key_hint", "webhook_secret_hint", "livemode",
              "automatic_tax", "api_base", "connected_at", "checked_at"]


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyAdmin):
    list_display = ["customer", "organization", "stripe_id", "synced_at"]
    list_filter = ["organization"]


@admin.register(InvoicePush)
class InvoicePushAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "organization", "status", "remote_status", "stripe_invoice_id", "attempts",
                    "last_error", "pushed_at"]
    list_filter = ["organization", "status", "remote_status"]
    search_fields = ["stripe_invoice_id", "invoice__number"]
    actions = ["push_again"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return obj is None and bool(request.user.is_staff)  # the list's action, never the form

    @admin.action(description="Push to Stripe again")
    def push_again(self, request: HttpRequest, queryset: QuerySet[InvoicePush]) -> None:
        for push in queryset.select_related("invoice"):
            try:
                invoice_push_queue(invoice=push.invoice)
            except DomainError as exc:
                self.message_user(request, f"{push.invoice}: {exc.message}", messages.ERROR)
        self.message_user(request, "Pushes queued.")


@admin.register(CreditNotePush)
class CreditNotePushAdmin(ReadOnlyAdmin):
    list_display = ["credit_note", "organization", "status", "stripe_credit_note_id", "attempts", "last_error"]
    list_filter = ["organization", "status"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "organization", "type", "outcome", "invoice", "message", "received_at"]
    list_filter = ["organization", "type", "outcome"]
    search_fields = ["event_id", "stripe_object_id"]
