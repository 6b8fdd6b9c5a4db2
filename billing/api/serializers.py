from typing import Any

from rest_framework import serializers

from billing.audience import Audience, visible_fields
from billing.models import BillingRun, Invoice, InvoiceLine
from core.api.fields import AmountField, PeriodField

VENDOR_ONLY = "Vendor only: left out of the answers to a customer-scoped key."


class AudienceOutput(serializers.Serializer):
    """Output chosen by who asks (billing.audience): the view passes `audience` in the context, and an
    answer without one is the customer's, so a forgotten context leaks nothing."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        audience = self.context.get("audience", Audience.CUSTOMER)
        return visible_fields(super().to_representation(instance), audience=audience)


class VendorAmountField(AmountField):
    """An amount only the vendor audience gets. Output fields are documented as always present; this one
    is not read-only (these serializers only ever write answers) so the schema shows it optional."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)
        self.read_only = False


class InvoiceLineOutput(AudienceOutput, serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField()
    service_period = serializers.SerializerMethodField()
    quantity = AmountField(currency=lambda line: "")
    unit_price = AmountField(currency=lambda line: line.invoice.currency)
    amount = AmountField(currency=lambda line: line.invoice.currency)
    cost = VendorAmountField(currency=lambda line: "", allow_null=True,
                             help_text=f"The task's cost to serve. {VENDOR_ONLY}")
    cost_currency = serializers.CharField(required=False, help_text=VENDOR_ONLY)

    class Meta:
        model = InvoiceLine
        fields = ["position", "kind", "task_id", "outcome", "outcome_event", "description", "note", "quantity",
                  "unit_price", "amount", "cost", "cost_currency", "service_period"]

    outcome_event = serializers.CharField(source="outcome_event.idempotency_key", allow_null=True, default=None)

    def get_outcome(self, line: InvoiceLine) -> str | None:
        return line.outcome_type.code if line.outcome_type else None

    def get_service_period(self, line: InvoiceLine) -> str:
        return line.service_period_start.strftime("%Y-%m")


class InvoiceSummaryOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    period = serializers.CharField()
    subtotal = AmountField(currency=lambda invoice: invoice.currency)
    total = AmountField(currency=lambda invoice: invoice.currency)

    class Meta:
        model = Invoice
        fields = ["id", "number", "customer", "period", "status", "currency", "subtotal", "total",
                  "finalized_at", "updated_at"]


class InvoiceOutput(InvoiceSummaryOutput):
    lines = InvoiceLineOutput(many=True)
    credits_applied = AmountField(currency=lambda invoice: invoice.currency)
    price_book_version = serializers.IntegerField(source="price_book.version", allow_null=True, default=None)

    class Meta(InvoiceSummaryOutput.Meta):
        fields = [*InvoiceSummaryOutput.Meta.fields, "credits_applied", "price_book_version", "paid_at",
                  "voided_at", "cutoff", "lines"]


class BillingRunInput(serializers.Serializer):
    period = PeriodField()
    customer = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class BillingRunOutput(serializers.ModelSerializer):
    period = serializers.CharField()
    customer = serializers.CharField(source="customer.external_id", allow_null=True, default=None)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BillingRun
        fields = ["id", "status", "period", "customer", "customers_total", "customers_done", "progress",
                  "error", "created_at", "started_at", "finished_at"]

    def get_progress(self, run: BillingRun) -> float:
        if run.status == BillingRun.Status.DONE:
            return 1.0
        return round(run.customers_done / run.customers_total, 4) if run.customers_total else 0.0


class BaselineUsedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["proposed", "approved"], help_text="Approved by the customer, or only proposed.")
    effective_from = serializers.CharField(help_text="YYYY-MM")


class ValueBasisOutput(serializers.Serializer):
    count = serializers.IntegerField()
    unit_value = serializers.CharField(help_text="What one outcome is worth to the customer.")
    value = serializers.CharField()
    basis = serializers.ChoiceField(choices=["baseline", "estimate"],
                                    help_text="The customer's baseline in force, or the outcome type's estimate.")
    baseline = BaselineUsedOutput(allow_null=True)


class RoiOutput(AudienceOutput):
    """billing.selectors.roi.PeriodFigures: the same figures as the portal's pages and CSV exports."""

    period = serializers.CharField()
    currency = serializers.CharField()
    outcomes = serializers.DictField(
        child=serializers.IntegerField(), help_text="Outcomes still standing: reversed or credited ones left out."
    )
    tasks = serializers.IntegerField()
    value_delivered = serializers.CharField()
    value_basis = serializers.DictField(child=ValueBasisOutput(), help_text="Per outcome type: how its value was set.")
    billed = serializers.CharField(help_text="billed_on_invoice + billed_later + credited.")
    billed_on_invoice = serializers.CharField(help_text="Charged for the period on its own invoice.")
    billed_later = serializers.CharField(help_text="Late charges for the period on later invoices.")
    credited = serializers.CharField(
        help_text="Credits attributed back to the period (negative): credit lines on later invoices, credit notes."
    )
    roi = serializers.CharField(allow_null=True, help_text="value_delivered / billed")
    cost_currency = serializers.CharField(required=False, help_text=VENDOR_ONLY)
    cost_to_serve = serializers.CharField(
        required=False, help_text=f"All usage of the period: cost_of_billed_tasks + unbilled_cost. {VENDOR_ONLY}"
    )
    cost_of_billed_tasks = serializers.CharField(required=False, help_text=VENDOR_ONLY)
    unbilled_cost = serializers.CharField(required=False, help_text=f"Tasks with no standing outcome. {VENDOR_ONLY}")
    unbilled_tasks = serializers.IntegerField(required=False, help_text=VENDOR_ONLY)
    margin = serializers.CharField(allow_null=True, required=False, help_text=f"billed - cost_to_serve. {VENDOR_ONLY}")
    cost_per_outcome = serializers.CharField(allow_null=True, required=False, help_text=VENDOR_ONLY)
