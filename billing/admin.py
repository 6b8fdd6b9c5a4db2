from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from billing.models import (
    BillingRun,
    CreditGrant,
    CreditLedgerEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Notification,
    PriceBook,
    PriceBookEntry,
    PriceBookMeter,
    RoiReport,
)
from billing.services.wallet import credit_grant_create

_LINE_FIELDS = (
    "position", "kind", "task_id", "outcome_type", "description", "quantity", "unit_price", "amount", "cost",
)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = _LINE_FIELDS
    readonly_fields = _LINE_FIELDS
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["pk", "number", "organization", "customer", "period_start", "status", "total", "currency"]
    list_filter = ["organization", "status", "period_start"]
    search_fields = ["number", "customer__external_id", "customer__name"]
    readonly_fields = ["organization", "customer", "period_start", "period_end", "number", "currency", "subtotal",
                       "total", "cutoff", "finalized_at"]
    inlines = [InvoiceLineInline]


@admin.register(BillingRun)
class BillingRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "organization", "period_start", "customer", "status", "customers_done", "customers_total",
                    "created_at", "finished_at"]
    list_filter = ["organization", "status"]


@admin.register(RoiReport)
class RoiReportAdmin(admin.ModelAdmin):
    list_display = ["customer", "period_start", "billed", "value_delivered", "cost_to_serve", "currency"]
    list_filter = ["organization", "period_start"]


class PriceBookEntryInline(admin.TabularInline):
    model = PriceBookEntry
    extra = 0
    fields = ["outcome_type", "model", "unit_price", "tiers", "package_size", "package_price"]


class PriceBookMeterInline(admin.TabularInline):
    model = PriceBookMeter
    extra = 0


@admin.register(PriceBook)
class PriceBookAdmin(admin.ModelAdmin):
    """Price books are versions: edit a version only before it prices a finalized invoice."""

    list_display = ["customer", "version", "effective_from", "currency", "platform_fee", "included_outcomes",
                    "minimum_commit", "spend_cap"]
    list_filter = ["organization", "currency"]
    search_fields = ["customer__external_id", "customer__name"]
    inlines = [PriceBookEntryInline, PriceBookMeterInline]

    def get_readonly_fields(self, request: HttpRequest, obj: PriceBook | None = None) -> list[str]:
        if obj is not None and obj.invoice_set.exclude(status=Invoice.Status.DRAFT).exists():
            return [f.name for f in PriceBook._meta.fields]
        return ["version"]


class CreditLedgerInline(admin.TabularInline):
    model = CreditLedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "amount", "invoice", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(CreditGrant)
class CreditGrantAdmin(admin.ModelAdmin):
    list_display = ["customer", "amount", "currency", "priority", "granted_at", "expires_at", "description"]
    list_filter = ["organization", "currency"]
    inlines = [CreditLedgerInline]

    def get_readonly_fields(self, request: HttpRequest, obj: CreditGrant | None = None) -> list[str]:
        return ["amount", "currency", "customer", "organization"] if obj else []

    def save_model(self, request: HttpRequest, obj: CreditGrant, form: "ModelForm[Any]", change: bool) -> None:
        # A new grant goes through the service, which writes its ledger entry with it.
        if change:
            return super().save_model(request, obj, form, change)
        grant = credit_grant_create(customer=obj.customer, amount=obj.amount, currency=obj.currency,
                                    expires_at=obj.expires_at, priority=obj.priority, description=obj.description,
                                    granted_at=obj.granted_at)
        obj.pk = grant.pk


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    extra = 0
    can_delete = False
    readonly_fields = ["invoice_line", "outcome_event", "description", "amount"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "invoice", "total", "currency", "created_at"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "customer", "invoice", "number", "currency", "total", "reason"]
    inlines = [CreditNoteLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "period_start", "message", "created_at"]
    list_filter = ["organization", "kind"]
