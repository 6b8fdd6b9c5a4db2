from django.contrib import admin

from billing.models import BillingRun, Invoice, InvoiceLine, RoiReport


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "kind", "task_id", "outcome_type", "description", "quantity", "unit_price", "amount", "cost"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
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
