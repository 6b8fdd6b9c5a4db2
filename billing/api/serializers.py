from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.audience import Audience, visible_fields
from billing.models import BillingRun, Invoice, InvoiceLine
from billing.selectors.document import InvoiceDocument, invoice_document
from core.api.fields import AmountField, PeriodField, decimal_str
from core.money import minor_unit

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
    tax_total = AmountField(currency=lambda invoice: invoice.currency,
                            help_text="Tax of all rates (billing.services.tax); exclusive rates' is in the total.")
    total = AmountField(currency=lambda invoice: invoice.currency, help_text="Tax included.")
    amount_paid = AmountField(currency=lambda invoice: invoice.currency)
    amount_due = AmountField(currency=lambda invoice: invoice.currency, help_text="total - amount_paid.")
    overdue = serializers.SerializerMethodField(help_text="Finalized, past its due date, something left to pay.")

    class Meta:
        model = Invoice
        fields = ["id", "number", "customer", "period", "status", "currency", "subtotal", "tax_total", "total",
                  "amount_paid", "amount_due", "issue_date", "due_date", "overdue", "finalized_at", "updated_at"]

    def get_overdue(self, invoice: Invoice) -> bool:
        return invoice.is_overdue(timezone.now().date())


class PartyOutput(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.ListField(child=serializers.CharField(), help_text="Printed lines, country code last.")
    tax_id = serializers.CharField()
    email = serializers.CharField()
    country = serializers.CharField()


class SummaryLineOutput(serializers.Serializer):
    description = serializers.CharField(help_text='"Support ticket resolved, 800 at 0.99 then 173 at 0.79".')
    quantity = serializers.CharField(allow_null=True)
    unit_price = serializers.CharField(allow_null=True, help_text="Null when the line spans several prices.")
    amount = serializers.CharField()
    kind = serializers.CharField(help_text="outcome, included, usage_overage, minimum_commit, platform_fee, "
                                           "prior_period, credit or prepaid_credit.")


class TaxOutput(serializers.Serializer):
    name = serializers.CharField()
    jurisdiction = serializers.CharField()
    rate = serializers.CharField(help_text="Percent.")
    inclusive = serializers.BooleanField(help_text="Already inside the prices (not added to the total).")
    taxable_amount = serializers.CharField()
    amount = serializers.CharField()


class PaymentOutput(serializers.Serializer):
    amount = serializers.CharField()
    currency = serializers.CharField()
    paid_at = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]  # the answer's key; no Field.source here
    reference = serializers.CharField()


class InvoiceOutput(InvoiceSummaryOutput):
    """One invoice with its document (billing.selectors.document.invoice_document: the same summary, parties
    and tax as the web page and the PDF) and its lines."""

    lines = InvoiceLineOutput(many=True)
    credits_applied = AmountField(currency=lambda invoice: invoice.currency)
    price_book_version = serializers.IntegerField(source="price_book.version", allow_null=True, default=None)
    summary = serializers.SerializerMethodField()
    taxes = serializers.SerializerMethodField()
    tax_note = serializers.CharField(help_text="Why no tax is charged: reverse charge or exemption.")
    bill_from = serializers.SerializerMethodField()
    bill_to = serializers.SerializerMethodField()
    payment_terms_days = serializers.SerializerMethodField()
    payment_url = serializers.CharField(help_text="Where the customer pays; blank until a link exists.")
    payments = serializers.SerializerMethodField()

    class Meta(InvoiceSummaryOutput.Meta):
        fields = [*InvoiceSummaryOutput.Meta.fields, "credits_applied", "price_book_version", "paid_at",
                  "voided_at", "cutoff", "bill_from", "bill_to", "payment_terms_days", "summary", "taxes",
                  "tax_note", "payment_url", "payments", "lines"]

    def _document(self, invoice: Invoice) -> InvoiceDocument:
        cached: InvoiceDocument | None = getattr(self, "_document_cache", None)
        if cached is None or cached.invoice.pk != invoice.pk:
            cached = invoice_document(invoice, audience=self.context.get("audience", Audience.CUSTOMER))
            self._document_cache = cached
        return cached

    @extend_schema_field(SummaryLineOutput(many=True))
    def get_summary(self, invoice: Invoice) -> list[dict[str, Any]]:
        currency = invoice.currency
        return [{
            "description": line.description,
            "quantity": decimal_str(line.quantity) if line.quantity is not None else None,
            "unit_price": decimal_str(line.unit_price, minor_unit(currency)) if line.unit_price is not None else None,
            "amount": decimal_str(line.amount, minor_unit(currency)),
            "kind": line.kind,
        } for line in self._document(invoice).summary]

    @extend_schema_field(TaxOutput(many=True))
    def get_taxes(self, invoice: Invoice) -> list[dict[str, Any]]:
        places = minor_unit(invoice.currency)
        return [{"name": tax.name, "jurisdiction": tax.jurisdiction, "rate": decimal_str(tax.rate),
                 "inclusive": tax.inclusive, "taxable_amount": decimal_str(tax.taxable_amount, places),
                 "amount": decimal_str(tax.amount, places)} for tax in self._document(invoice).taxes]

    @extend_schema_field(PartyOutput)
    def get_bill_from(self, invoice: Invoice) -> dict[str, Any]:
        return self._document(invoice).bill_from.as_dict()

    @extend_schema_field(PartyOutput)
    def get_bill_to(self, invoice: Invoice) -> dict[str, Any]:
        return self._document(invoice).bill_to.as_dict()

    def get_payment_terms_days(self, invoice: Invoice) -> int:
        return self._document(invoice).payment_terms_days

    @extend_schema_field(PaymentOutput(many=True))
    def get_payments(self, invoice: Invoice) -> list[dict[str, Any]]:
        places = minor_unit(invoice.currency)
        return [{"amount": decimal_str(p.amount, places), "currency": p.currency, "paid_at": p.paid_at,
                 "source": p.source, "reference": p.reference} for p in self._document(invoice).payments]


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
    status = serializers.ChoiceField(
        choices=["proposed", "approved"], help_text="Approved by the customer, or only proposed."
    )
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
