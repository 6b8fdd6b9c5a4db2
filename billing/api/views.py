from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import customer_scope, organization_of
from accounts.api.views import scoped_customer_get
from billing.api.serializers import (
    BillingRunInput,
    BillingRunOutput,
    InvoiceOutput,
    InvoiceSummaryOutput,
    RoiOutput,
)
from billing.audience import audience_for
from billing.models import Invoice
from billing.selectors.aging import invoice_overdue_q
from billing.selectors.invoices import invoice_get, invoice_list
from billing.selectors.roi import roi_figures, roi_get
from billing.selectors.runs import billing_run_get
from billing.services.runs import billing_run_create
from core.api.exceptions import ErrorSerializer
from core.api.fields import PERIOD_SCHEMA
from core.errors import DomainError
from core.periods import period_parse


class BillingRunListApi(APIView):
    @extend_schema(
        request=BillingRunInput,
        responses={202: BillingRunOutput, 429: OpenApiResponse(ErrorSerializer, description=(
            "Too many runs started by the organization in the last minute; see Retry-After."))},
        description="Starts a run, or answers with the queued or running run of the same period and "
        "customer, which it joins.",
    )
    def post(self, request: Request) -> Response:
        data = BillingRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_of(request)
        period = period_parse(data.validated_data["period"])
        customer = None
        if data.validated_data.get("customer"):
            try:
                customer = scoped_customer_get(request, data.validated_data["customer"])
            except DomainError as exc:
                raise DomainError(exc.message, field="customer") from exc
        run = billing_run_create(organization=organization, period=period, customer=customer)
        return Response(BillingRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class BillingRunDetailApi(APIView):
    @extend_schema(responses=BillingRunOutput)
    def get(self, request: Request, run_id: int) -> Response:
        run = billing_run_get(organization=organization_of(request), run_id=run_id)
        return Response(BillingRunOutput(run).data)


class InvoiceListApi(APIView):
    customer_readable = True

    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str, description="customer external_id"),
            OpenApiParameter("period", PERIOD_SCHEMA, description="YYYY-MM"),
            OpenApiParameter("status", str, enum=Invoice.Status.values, description="draft, finalized, paid or void"),
            OpenApiParameter("overdue", bool, description="true: only invoices past their due date with something "
                             "left to pay; false: only the others"),
        ],
        responses=InvoiceSummaryOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        customer, period = customer_scope(request), None
        if request.query_params.get("customer"):
            customer = scoped_customer_get(request, request.query_params["customer"])
        if request.query_params.get("period"):
            period = period_parse(request.query_params["period"])
        status_filter = request.query_params.get("status") or None
        if status_filter is not None and status_filter not in Invoice.Status.values:
            raise DomainError(f"status is one of {', '.join(Invoice.Status.values)}.", field="status")
        invoices = invoice_list(organization=organization, customer=customer, period=period, status=status_filter)
        overdue = request.query_params.get("overdue")
        if overdue is not None:
            if overdue.lower() not in ("true", "false"):
                raise DomainError("overdue is true or false.", field="overdue")
            condition = invoice_overdue_q(timezone.now().date())
            invoices = invoices.filter(condition) if overdue.lower() == "true" else invoices.exclude(condition)
        return Response(InvoiceSummaryOutput(invoices, many=True).data)


class InvoiceDetailApi(APIView):
    customer_readable = True

    @extend_schema(responses=InvoiceOutput)
    def get(self, request: Request, invoice_id: int) -> Response:
        customer = customer_scope(request)
        invoice = invoice_get(organization=organization_of(request), invoice_id=invoice_id,
                              customer=customer, with_lines=True)
        return Response(InvoiceOutput(invoice, context={"audience": audience_for(customer=customer)}).data)


class CustomerRoiApi(APIView):
    customer_readable = True

    @extend_schema(parameters=[OpenApiParameter("period", PERIOD_SCHEMA, required=True, description="YYYY-MM")],
                   responses=RoiOutput)
    def get(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        period = period_parse(request.query_params.get("period"))
        audience = audience_for(customer=customer_scope(request))
        figures = roi_figures(roi_get(customer=customer, period=period), audience=audience)
        return Response(RoiOutput(figures, context={"audience": audience}).data)
