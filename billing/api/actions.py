"""API: invoice lifecycle (finalize, pay, void) and credit notes."""

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import customer_scope, organization_of
from accounts.api.views import scoped_customer_get
from billing.api.serializers import InvoiceOutput
from billing.audience import Audience
from billing.models import CreditNote, InvoiceLine
from billing.selectors.invoices import credit_note_list, invoice_get
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize, invoice_mark_paid, invoice_void
from core.api.fields import AmountField, DecimalStringField
from core.errors import DomainError


def _invoice_response(request: Request, invoice_id: int) -> Response:
    invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id, with_lines=True)
    # Invoice actions are the vendor's (customer keys get 403): the answer shows each line's cost.
    return Response(InvoiceOutput(invoice, context={"audience": Audience.VENDOR}).data)


class InvoiceFinalizeApi(APIView):
    @extend_schema(request=None, responses=InvoiceOutput)
    def post(self, request: Request, invoice_id: int) -> Response:
        invoice_finalize(invoice=invoice_get(organization=organization_of(request), invoice_id=invoice_id))
        return _invoice_response(request, invoice_id)


class InvoicePayApi(APIView):
    @extend_schema(request=None, responses=InvoiceOutput)
    def post(self, request: Request, invoice_id: int) -> Response:
        invoice_mark_paid(invoice=invoice_get(organization=organization_of(request), invoice_id=invoice_id))
        return _invoice_response(request, invoice_id)


class InvoiceVoidApi(APIView):
    @extend_schema(request=None, responses=InvoiceOutput)
    def post(self, request: Request, invoice_id: int) -> Response:
        invoice_void(invoice=invoice_get(organization=organization_of(request), invoice_id=invoice_id))
        return _invoice_response(request, invoice_id)


class CreditNoteLineInput(serializers.Serializer):
    amount = DecimalStringField(positive=True, required=False, allow_null=True, default=None,
                                help_text="Defaults to the whole amount of the credited invoice line.")
    description = serializers.CharField(max_length=300, required=False, default="")
    line_position = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                             help_text="The invoice line credited (its position).")


class CreditNoteInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    lines = CreditNoteLineInput(many=True)


class CreditNoteOutput(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    invoice = serializers.IntegerField(source="invoice_id")
    invoice_number = serializers.CharField(source="invoice.number")
    total = AmountField(currency=lambda note: note.currency)
    lines = serializers.SerializerMethodField()

    class Meta:
        model = CreditNote
        fields = ["id", "number", "customer", "invoice", "invoice_number", "currency", "total", "reason", "lines",
                  "created_at"]

    @extend_schema_field(inline_serializer("CreditNoteLineOutput", {
        "description": serializers.CharField(), "amount": serializers.CharField(),
        "invoice_line": serializers.IntegerField(allow_null=True)}, many=True))
    def get_lines(self, note: CreditNote) -> list[dict[str, object]]:
        return [{"description": line.description, "amount": f"{line.amount:f}",
                 "invoice_line": line.invoice_line.position if line.invoice_line else None}
                for line in note.lines.all()]


class CreditNoteCreateApi(APIView):
    @extend_schema(request=CreditNoteInput, responses={201: CreditNoteOutput})
    def post(self, request: Request, invoice_id: int) -> Response:
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id, with_lines=True)
        data = CreditNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        lines = {line.position: line for line in invoice.lines.all()}
        items = []
        for index, item in enumerate(data.validated_data["lines"]):
            invoice_line: InvoiceLine | None = None
            if item["line_position"] is not None:
                invoice_line = lines.get(item["line_position"])
                if invoice_line is None:
                    raise DomainError("No such line on the invoice.", field=f"lines[{index}].line_position")
            amount = item["amount"] if item["amount"] is not None else (invoice_line.amount if invoice_line else None)
            if amount is None or amount <= Decimal(0):
                raise DomainError("Give an amount, or a line_position to credit.", field=f"lines[{index}].amount")
            description = item["description"] or (invoice_line.description if invoice_line else "Credit")
            items.append(CreditSpec(amount=amount, description=description, invoice_line=invoice_line))
        note = credit_note_create(invoice=invoice, reason=data.validated_data["reason"], items=items)
        return Response(CreditNoteOutput(note).data, status=status.HTTP_201_CREATED)


class CreditNoteListApi(APIView):
    customer_readable = True

    @extend_schema(parameters=[OpenApiParameter("customer", str)], responses=CreditNoteOutput(many=True))
    def get(self, request: Request) -> Response:
        customer = customer_scope(request)
        if request.query_params.get("customer"):
            customer = scoped_customer_get(request, request.query_params["customer"])
        notes = credit_note_list(organization_id=organization_of(request).pk, customer=customer)
        return Response(CreditNoteOutput(notes, many=True).data)
