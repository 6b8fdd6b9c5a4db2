from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.models import (
    BillingRun,
    CreditGrant,
    CreditLedgerEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    InvoiceTax,
    Notification,
    PriceBook,
    PriceBookEntry,
    PriceBookMeter,
    RoiReport,
    TaxRate,
)
from billing.services.wallet import credit_grant_create
from core.errors import DomainError
from core.money import format_money, money_check


def _money(amount: Decimal | None, currency: str) -> str:
    return "—" if amount is None else format_money(amount, currency)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Documents are written by services only (finalizing, crediting, runs): the admin shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# The invoice page shows this many lines; all of them are paged in the invoice line list it links to.
# An invoice has a line per outcome (thousands): rendering them all made the page slow and, as a form,
# too big to post (TooManyFieldsSent at 564 lines).
INVOICE_PAGE_LINES = 20


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class InvoiceTaxInline(_ReadOnlyInline):
    """The invoice's tax per rate, frozen with it."""

    model = InvoiceTax
    fields = readonly_fields = ("position", "name", "jurisdiction", "rate", "inclusive", "taxable_amount", "amount")


class InvoicePaymentInline(_ReadOnlyInline):
    """Payments received: an append-only ledger (a correction is a new row)."""

    model = InvoicePayment
    fields = readonly_fields = ("paid_at", "amount", "currency", "source", "reference", "created_at")


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    """Tax rates are configuration: editable (drafts follow; finalized invoices keep their tax), never deleted
    (retire one with active)."""

    list_display = ["name", "jurisdiction", "country", "region", "percentage", "inclusive", "active", "organization"]
    list_filter = ["organization", "country", "active"]
    search_fields = ["name", "jurisdiction"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Read-only: a draft is rewritten by every run and a frozen invoice never changes; invoices move
    through their services (the portal's and the API's finalize, pay, void and credit note)."""

    list_display = ["pk", "number", "organization", "customer", "period_start", "status", "total_money"]
    list_filter = ["organization", "status", "period_start"]
    search_fields = ["number", "customer__external_id", "customer__name"]
    list_select_related = ["organization", "customer"]
    fields = readonly_fields = (
        "organization", "customer", "period_start", "period_end", "status", "number", "price_book", "subtotal_money",
        "credits_applied_money", "tax_total_money", "tax_note", "total_money", "amount_paid_money", "issue_date",
        "due_date", "bill_from", "bill_to", "payment_url", "cutoff", "finalized_at", "paid_at", "voided_at",
        "lines_page",
    )
    inlines = [InvoiceTaxInline, InvoicePaymentInline]

    @admin.display(description="tax")
    def tax_total_money(self, invoice: Invoice) -> str:
        return _money(invoice.tax_total, invoice.currency)

    @admin.display(description="amount paid")
    def amount_paid_money(self, invoice: Invoice) -> str:
        return _money(invoice.amount_paid, invoice.currency)

    @admin.display(description="subtotal")
    def subtotal_money(self, invoice: Invoice) -> str:
        return _money(invoice.subtotal, invoice.currency)

    @admin.display(description="prepaid credits applied")
    def credits_applied_money(self, invoice: Invoice) -> str:
        return _money(invoice.credits_applied, invoice.currency)

    @admin.display(description="total", ordering="total")
    def total_money(self, invoice: Invoice) -> str:
        return _money(invoice.total, invoice.currency)

    @admin.display(description="lines")
    def lines_page(self, invoice: Invoice) -> SafeString:
        lines = list(invoice.lines.order_by("position")[:INVOICE_PAGE_LINES])
        count = invoice.lines.count()
        url = reverse("admin:billing_invoiceline_changelist") + f"?invoice__id__exact={invoice.pk}"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style='text-align:right'>{}</td></tr>",
            ((line.position, line.get_kind_display(), line.description, line.quantity.normalize(),
              _money(line.amount, invoice.currency)) for line in lines),
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>kind</th><th>description</th><th>quantity</th><th>amount</th>"
            "</tr></thead><tbody>{}</tbody></table><p><a href='{}'>All {} lines, paged</a></p>",
            rows, url, count,
        )


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    """Every line of an invoice, paged; reached from the invoice's page."""

    list_display = ["position", "invoice", "kind", "task_id", "description", "quantity", "amount_money"]
    list_filter = ["kind"]
    list_per_page = 100
    list_select_related = ["invoice"]
    search_fields = ["task_id", "description"]
    ordering = ["invoice", "position"]
    show_full_result_count = False  # a count of every line of every invoice costs a scan

    @admin.display(description="amount")
    def amount_money(self, line: InvoiceLine) -> str:
        return _money(line.amount, line.invoice.currency)


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


class CreditGrantForm(ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount, currency = data.get("amount"), data.get("currency")
        if amount is not None and currency:
            try:
                money_check(amount, currency, field="amount")
            except DomainError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(CreditGrant)
class CreditGrantAdmin(admin.ModelAdmin):
    list_display = ["customer", "amount", "currency", "priority", "granted_at", "expires_at", "description"]
    list_filter = ["organization", "currency"]
    inlines = [CreditLedgerInline]
    form = CreditGrantForm

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
    fields = readonly_fields = ("invoice_line", "description", "amount_money")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="amount")
    def amount_money(self, line: CreditNoteLine) -> str:
        return _money(line.amount, line.credit_note.currency)


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    """Issued credit notes never change and are never deleted (their numbers are gapless)."""

    list_display = ["number", "customer", "invoice", "total_money", "created_at"]
    list_filter = ["organization"]
    list_select_related = ["customer", "invoice"]
    fields = readonly_fields = ("organization", "customer", "invoice", "number", "total_money", "reason", "created_at")
    inlines = [CreditNoteLineInline]

    @admin.display(description="total")
    def total_money(self, note: CreditNote) -> str:
        return _money(note.total, note.currency)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "period_start", "message", "created_at"]
    list_filter = ["organization", "kind"]
