"""API: the organization's billing profile (the seller on its invoices) and customers' billing details."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import organization_of
from accounts.api.views import scoped_customer_get
from accounts.billing_details import (
    MAX_TERMS_DAYS,
    billing_profile_get,
    billing_profile_update,
    customer_billing_update,
)
from accounts.models import BillingProfile, Customer

COUNTRY_HELP = "ISO 3166-1 alpha-2 code (DE, US); lower case is taken."


class _AddressFields(serializers.Serializer):
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                   help_text="State or province, as tax rates name it (CA).")
    country = serializers.RegexField(r"^([A-Za-z]{2})?$", required=False, allow_blank=True, help_text=COUNTRY_HELP)


class BillingProfileInput(_AddressFields):
    legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    logo_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    payment_terms_days = serializers.IntegerField(min_value=0, max_value=MAX_TERMS_DAYS, required=False,
                                                  help_text="Net days from issue to due date (30 by default).")
    memo = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    footer = serializers.CharField(max_length=500, required=False, allow_blank=True)
    payment_instructions = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    class Meta:
        ref_name = "BillingProfileInput"


class BillingProfileOutput(serializers.ModelSerializer):
    has_logo = serializers.SerializerMethodField()

    class Meta:
        model = BillingProfile
        fields = ["legal_name", "address_line1", "address_line2", "city", "postal_code", "region", "country",
                  "tax_id", "email", "logo_url", "has_logo", "payment_terms_days", "memo", "footer",
                  "payment_instructions"]

    def get_has_logo(self, profile: BillingProfile) -> bool:
        return bool(profile.logo)


class CustomerBillingInput(_AddressFields):
    billing_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    billing_email = serializers.EmailField(required=False, allow_blank=True)
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tax_status = serializers.ChoiceField(choices=Customer.TaxStatus.choices, required=False)
    tax_exemption_reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
    payment_terms_days = serializers.IntegerField(
        min_value=0, max_value=MAX_TERMS_DAYS, required=False, allow_null=True,
        help_text="Net days for this customer; null: the organization's terms.",
    )


class CustomerBillingOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["external_id", "billing_name", "address_line1", "address_line2", "city", "postal_code", "region",
                  "country", "tax_id", "billing_email", "tax_status", "tax_exemption_reference",
                  "payment_terms_days"]


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data)


class BillingProfileApi(APIView):
    @extend_schema(responses=BillingProfileOutput, description="The organization as its invoices print it.")
    def get(self, request: Request) -> Response:
        return Response(BillingProfileOutput(billing_profile_get(organization=organization_of(request))).data)

    @extend_schema(request=BillingProfileInput, responses=BillingProfileOutput,
                   description="Sets the fields given; the others keep their values. Finalized invoices keep "
                   "the parties they were issued with.")
    def patch(self, request: Request) -> Response:
        data = BillingProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        profile = billing_profile_update(organization=organization_of(request), **_fields(data.validated_data))
        return Response(BillingProfileOutput(profile).data)


class CustomerBillingApi(APIView):
    customer_readable = True

    @extend_schema(responses=CustomerBillingOutput)
    def get(self, request: Request, external_id: str) -> Response:
        return Response(CustomerBillingOutput(scoped_customer_get(request, external_id)).data)

    @extend_schema(request=CustomerBillingInput, responses=CustomerBillingOutput,
                   description="Sets the fields given; the others keep their values.")
    def patch(self, request: Request, external_id: str) -> Response:
        customer = scoped_customer_get(request, external_id)
        data = CustomerBillingInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_billing_update(customer=customer, **_fields(data.validated_data))
        return Response(CustomerBillingOutput(customer).data)
