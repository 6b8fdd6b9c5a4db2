"""API: the invoice PDF, payments and the payment link, tax rates and their assignment to customers."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import customer_scope, organization_of
from accounts.api.views import scoped_customer_get
from billing.api.serializers import InvoiceOutput
from billing.audience import Audience, audience_for
from billing.invoice_pdf import invoice_pdf_response
from billing.models import TaxRate
from billing.selectors.document import customer_assigned_tax_rates, tax_rate_get, tax_rate_list
from billing.selectors.invoices import invoice_get
from billing.services.payments import invoice_payment_link_set, invoice_payment_record
from billing.services.tax import customer_tax_rates_set, tax_rate_create, tax_rate_update
from core.api.exceptions import ErrorSerializer
from core.api.fields import DecimalStringField, decimal_str


class PdfRenderer(BaseRenderer):
    """Lets a client ask for application/pdf; the PDF itself is streamed, never rendered from data."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data)  # an error answered to a PDF request


class InvoicePdfApi(APIView):
    customer_readable = True
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(ErrorSerializer, description="No such invoice for the caller.")},
                   description="The invoice as a PDF: page 1 holds the parties, dates, summary, tax and amount "
                   "due; the per-task itemization follows. Streamed, so a million-line invoice starts at once.")
    def get(self, request: Request, invoice_id: int) -> StreamingHttpResponse:
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id,
                              customer=customer_scope(request))
        return invoice_pdf_response(invoice)


class PaymentInput(serializers.Serializer):
    amount = DecimalStringField(positive=True, help_text="In the invoice's currency, at most what is due.")
    paid_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    # The input's key; it shadows no Field.source here (mypy sees the serializer's own attribute).
    source = serializers.RegexField(r"^[a-z0-9_]{1,32}$", default="manual",  # type: ignore[assignment]
                                    help_text="manual, bank_transfer, stripe … (lower case, digits, _).")
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                      help_text="The payment's id at its source: recorded once per invoice.")


class InvoicePaymentApi(APIView):
    @extend_schema(request=PaymentInput, responses={201: InvoiceOutput},
                   description="Records a payment received for a finalized invoice; paid in full, it becomes "
                   "paid. The same source and reference again records nothing.")
    def post(self, request: Request, invoice_id: int) -> Response:
        data = PaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id)
        paid_at: datetime = data.validated_data.get("paid_at") or timezone.now()
        invoice_payment_record(invoice=invoice, amount=data.validated_data["amount"], paid_at=paid_at,
                               source=data.validated_data["source"], reference=data.validated_data["reference"])
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id, with_lines=True)
        return Response(InvoiceOutput(invoice, context={"audience": Audience.VENDOR}).data,
                        status=status.HTTP_201_CREATED)


class PaymentLinkInput(serializers.Serializer):
    payment_url = serializers.URLField(max_length=1000, allow_blank=True, help_text="http(s); blank removes it.")


class InvoicePaymentLinkApi(APIView):
    @extend_schema(request=PaymentLinkInput, responses=InvoiceOutput,
                   description="Where the customer pays this finalized invoice (printed on the page and the PDF).")
    def put(self, request: Request, invoice_id: int) -> Response:
        data = PaymentLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id)
        invoice_payment_link_set(invoice=invoice, url=data.validated_data["payment_url"])
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id, with_lines=True)
        return Response(InvoiceOutput(invoice, context={"audience": audience_for(customer=None)}).data)


# ---- tax rates -----------------------------------------------------------------------------------------


class PercentageField(serializers.RegexField):
    """A tax percentage as a string, 0 to 100 with at most 4 decimals (the schema says so by its pattern)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$", **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:  # type: ignore[override]
        return Decimal(super().to_internal_value(data))


class TaxRateOutput(serializers.ModelSerializer):
    percentage = serializers.SerializerMethodField()

    class Meta:
        model = TaxRate
        fields = ["id", "name", "jurisdiction", "country", "region", "percentage", "inclusive", "active",
                  "created_at"]

    def get_percentage(self, rate: TaxRate) -> str:
        return decimal_str(rate.percentage)


class TaxRateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    jurisdiction = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    country = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2 code of its customers.")
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                   help_text="Only customers of this region (state, province); blank: all.")
    percentage = PercentageField(help_text='0 to 100 with at most 4 decimals, e.g. "19" or "7.25".')
    inclusive = serializers.BooleanField(required=False, default=False, help_text="Prices already include it.")


class TaxRateUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    jurisdiction = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    percentage = PercentageField(required=False)
    inclusive = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False, help_text="false retires the rate (drafts stop using it).")


class TaxRateListApi(APIView):
    @extend_schema(responses=TaxRateOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(TaxRateOutput(tax_rate_list(organization=organization_of(request)), many=True).data)

    @extend_schema(request=TaxRateInput, responses={201: TaxRateOutput},
                   description="A rate applies to customers of its country (and region) that have no rate "
                   "assigned; drafts pick it up at their next reconciliation.")
    def post(self, request: Request) -> Response:
        data = TaxRateInput(data=request.data)
        data.is_valid(raise_exception=True)
        rate = tax_rate_create(organization_id=organization_of(request).pk, **data.validated_data)
        return Response(TaxRateOutput(rate).data, status=status.HTTP_201_CREATED)


class TaxRateDetailApi(APIView):
    @extend_schema(responses=TaxRateOutput)
    def get(self, request: Request, tax_rate_id: int) -> Response:
        return Response(TaxRateOutput(tax_rate_get(organization=organization_of(request),
                                                   tax_rate_id=tax_rate_id)).data)

    @extend_schema(request=TaxRateUpdateInput, responses=TaxRateOutput,
                   description="Finalized invoices keep the tax they were issued with.")
    def patch(self, request: Request, tax_rate_id: int) -> Response:
        rate = tax_rate_get(organization=organization_of(request), tax_rate_id=tax_rate_id)
        data = TaxRateUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(TaxRateOutput(tax_rate_update(tax_rate=rate, **data.validated_data)).data)


class CustomerTaxRatesInput(serializers.Serializer):
    tax_rates = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=20,
                                      help_text="Tax rate ids; an empty list: its country and region's rates.")


class CustomerTaxRatesApi(APIView):
    customer_readable = True

    @extend_schema(responses=TaxRateOutput(many=True), description="The rates assigned to the customer.")
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        return Response(TaxRateOutput(customer_assigned_tax_rates(customer=customer), many=True).data)

    @extend_schema(request=CustomerTaxRatesInput, responses=TaxRateOutput(many=True),
                   description="Assigns exactly these rates to the customer, replacing its country's.")
    def put(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        data = CustomerTaxRatesInput(data=request.data)
        data.is_valid(raise_exception=True)
        rates = customer_tax_rates_set(customer=customer, tax_rate_ids=data.validated_data["tax_rates"])
        return Response(TaxRateOutput(rates, many=True).data)
