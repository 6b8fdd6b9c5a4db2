from rest_framework import serializers

from billing.models import BillingRun, Invoice, InvoiceLine
from core.api.fields import AmountField


class InvoiceLineOutput(serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField()
    service_period = serializers.SerializerMethodField()
    quantity = AmountField(currency=lambda line: "")
    unit_price = AmountField(currency=lambda line: line.invoice.currency)
    amount = AmountField(currency=lambda line: line.invoice.currency)
    cost = AmountField(currency=lambda line: "", allow_null=True)

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
    period = serializers.CharField()
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


class RoiOutput(serializers.Serializer):
    period = serializers.CharField()
    currency = serializers.CharField()
    cost_currency = serializers.CharField()
    outcomes = serializers.DictField(child=serializers.IntegerField())
    tasks = serializers.IntegerField()
    unbilled_tasks = serializers.IntegerField()
    value_delivered = serializers.CharField()
    billed = serializers.CharField()
    cost_to_serve = serializers.CharField()
    margin = serializers.CharField(allow_null=True)
    cost_per_outcome = serializers.CharField(allow_null=True)
    roi = serializers.CharField(allow_null=True, help_text="value_delivered / billed")
    unbilled_cost = serializers.CharField()
