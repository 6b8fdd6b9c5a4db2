"""API: the organization's Stripe connection (hints only, never a secret), an invoice's Stripe state and its
push again, and the reconciliation. Vendor keys only (a customer key is refused by the permission)."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from billing.models import Invoice
from billing.selectors.invoices import invoice_get
from core.api.exceptions import ErrorSerializer
from payments.models import InvoicePush, PushStatus
from payments.selectors import invoice_push_of, push_reasons, reconciliation_list, stripe_account_of
from payments.services.push import invoice_push_queue

NOT_FOUND = {404: ErrorSerializer}
REMOTE_STATUSES = [choice for choice, _ in InvoicePush.RemoteStatus.choices if choice]

class StripeAccountOutput(serializers.Serializer):
    connected = serializers.BooleanField()
    account_id = serializers.CharField(allow_null=True, help_text="acct_… as Stripe answered the key check.")
    account_name = serializers.CharField(allow_null=True)
    livemode = serializers.BooleanField(allow_null=True)
    automatic_tax = serializers.BooleanField(allow_null=True, help_text="Stripe Tax computes the tax.")
    secret_key_hint = serializers.CharField(allow_null=True, help_text="Kind and last four characters only.")
    webhook_secret_hint = serializers.CharField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)
    webhook_url = serializers.URLField(help_text="The endpoint URL to register in Stripe's dashboard.")


class InvoiceStripeOutput(serializers.Serializer):
    invoice_id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Invoice.Status.choices, help_text="Our invoice's status.")
    push_status = serializers.ChoiceField(choices=PushStatus.choices, allow_null=True,
                                          help_text="null: never sent to Stripe.")
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True, help_text="Stripe's message when the last attempt failed.")
    last_error_code = serializers.CharField(allow_blank=True)
    stripe_invoice_id = serializers.CharField(allow_blank=True)
    stripe_status = serializers.ChoiceField(choices=REMOTE_STATUSES, allow_null=True,
                                            help_text="The Stripe invoice's status, as Stripe last said.")
    hosted_invoice_url = serializers.CharField(allow_blank=True, help_text="Where the customer pays.")
    payment_failed_at = serializers.DateTimeField(allow_null=True)
    payment_failure = serializers.CharField(allow_blank=True)
    disagreements = serializers.ListField(child=serializers.CharField(),
                                          help_text="Why Stripe's state and ours disagree; empty when they agree.")


def _invoice_state(invoice: Invoice, push: InvoicePush | None) -> dict[str, Any]:
    return {
        "invoice_id": invoice.pk, "number": invoice.number, "status": invoice.status,
        "push_status": push.status if push else None, "attempts": push.attempts if push else 0,
        "last_error": push.last_error if push else "", "last_error_code": push.last_error_code if push else "",
        "stripe_invoice_id": push.stripe_invoice_id if push else "",
        "stripe_status": (push.remote_status or None) if push else None,
        "hosted_invoice_url": push.hosted_invoice_url if push else "",
        "payment_failed_at": push.payment_failed_at if push else None,
        "payment_failure": push.payment_failure if push else "",
        "disagreements": push_reasons(push, invoice) if push else [],
    }


class StripeAccountApi(APIView):
    @extend_schema(responses=StripeAccountOutput, tags=["payments"],
                   description="The organization's Stripe connection. Secrets are never returned, only hints; "
                               "connect or change keys in the console (they are checked with Stripe there).")
    def get(self, request: Request) -> Response:
        organization = organization_of(request)
        account = stripe_account_of(organization)
        url = request.build_absolute_uri(reverse("payments:stripe-webhook", args=[organization.slug]))
        if account is None:
            answer: dict[str, Any] = dict.fromkeys(StripeAccountOutput().fields, None)
            answer.update(connected=False, webhook_url=url)
            return Response(StripeAccountOutput(answer).data)
        return Response(StripeAccountOutput({
            "connected": True, "account_id": account.account_id, "account_name": account.account_name,
            "livemode": account.livemode, "automatic_tax": account.automatic_tax,
            "secret_key_hint": account.secret_key_hint, "webhook_secret_hint": account.webhook_secret_hint or None,
            "checked_at": account.checked_at, "webhook_url": url,
        }).data)


class StripeReconciliationApi(APIView):
    @extend_schema(responses=InvoiceStripeOutput(many=True), tags=["payments"],
                   description="Invoices whose Stripe state and ours disagree, newest first, each with the reasons.")
    def get(self, request: Request) -> Response:
        rows = reconciliation_list(organization=organization_of(request))
        states = [{**_invoice_state(row.invoice, row.push), "disagreements": row.reasons} for row in rows]
        return Response(InvoiceStripeOutput(states, many=True).data)


class InvoiceStripeApi(APIView):
    @extend_schema(responses={200: InvoiceStripeOutput, **NOT_FOUND}, tags=["payments"],
                   description="The invoice's push to Stripe and Stripe's last word on it.")
    def get(self, request: Request, invoice_id: int) -> Response:
        organization = organization_of(request)
        invoice = invoice_get(organization=organization, invoice_id=invoice_id)
        push = invoice_push_of(organization=organization, invoice=invoice)
        return Response(InvoiceStripeOutput(_invoice_state(invoice, push)).data)


class InvoiceStripePushApi(APIView):
    @extend_schema(request=None, responses={202: InvoiceStripeOutput, 409: ErrorSerializer, **NOT_FOUND},
                   tags=["payments"],
                   description="Send a finalized invoice to Stripe (again): after a failure, or for an invoice "
                               "finalized before Stripe was connected. Safe to repeat: Stripe never gets a second "
                               "invoice. 409 when Stripe is not connected or the invoice is not finalized.")
    def post(self, request: Request, invoice_id: int) -> Response:
        organization = organization_of(request)
        invoice = invoice_get(organization=organization, invoice_id=invoice_id)
        invoice_push_queue(invoice=invoice)
        invoice = invoice_get(organization=organization, invoice_id=invoice_id)
        push = invoice_push_of(organization=organization, invoice=invoice)
        return Response(InvoiceStripeOutput(_invoice_state(invoice, push)).data, status=status.HTTP_202_ACCEPTED)
