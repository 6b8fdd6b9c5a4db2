"""Billing settings of the vendor console: the organization's billing profile (the seller on its invoices:
legal name, address, tax id, logo, payment terms, memo, footer, payment instructions), tax rates, and a
customer's billing details with the rates assigned to it. Vendor admins only; writes go through
accounts.billing_details and billing.services.tax, the same functions the API calls."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.billing_details import (
    CUSTOMER_FIELDS,
    LOGO_MAX_BYTES,
    MAX_TERMS_DAYS,
    PROFILE_FIELDS,
    billing_profile_get,
    billing_profile_logo_set,
    billing_profile_update,
    customer_billing_update,
)
from accounts.models import BillingProfile, Customer
from accounts.selectors import customer_get
from billing.models import TaxRate
from billing.selectors.document import customer_assigned_tax_rates, tax_rate_get, tax_rate_list
from billing.services.tax import RATE_FIELDS, customer_tax_rates_set, tax_rate_create, tax_rate_update
from core.errors import DomainError
from portal.access import not_found_as_404, scope_of, vendor_admin_required

TEXTAREA = forms.Textarea(attrs={"rows": 3, "cols": 60})


class BillingProfileForm(forms.ModelForm):
    logo_upload = forms.FileField(required=False, label="Logo", help_text="PNG or JPEG, at most 512 KB.")
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")

    class Meta:
        model = BillingProfile
        fields = list(PROFILE_FIELDS)
        widgets = {"memo": TEXTAREA, "footer": TEXTAREA, "payment_instructions": TEXTAREA}

    def clean_logo_upload(self) -> Any:
        upload = self.cleaned_data.get("logo_upload")
        if upload is not None and upload.size > LOGO_MAX_BYTES:
            raise forms.ValidationError("The logo is larger than 512 KB.")
        return upload


class CustomerBillingForm(forms.ModelForm):
    tax_rates = forms.ModelMultipleChoiceField(
        queryset=TaxRate.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Assigned rates replace the rates of the customer's country and region.",
    )

    class Meta:
        model = Customer
        fields = list(CUSTOMER_FIELDS)

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tax_rates"].queryset = TaxRate.objects.filter(  # type: ignore[attr-defined]
            organization_id=organization_id).order_by("-active", "country", "name", "pk")
        self.fields["payment_terms_days"].widget.attrs.update({"min": 0, "max": MAX_TERMS_DAYS})


class TaxRateForm(forms.ModelForm):
    class Meta:
        model = TaxRate
        fields = list(RATE_FIELDS)

    def clean_percentage(self) -> Any:
        percentage = self.cleaned_data["percentage"]
        if percentage is not None and not 0 <= percentage <= 100:
            raise forms.ValidationError("A percentage is 0 to 100.")
        return percentage


def _apply(form: forms.ModelForm, save: Any) -> bool:
    """Run a service with the form's data; a DomainError lands on the field it names."""
    try:
        save()
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False
    return True


def _fields(form: forms.ModelForm, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


@vendor_admin_required
def billing_profile_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    profile = billing_profile_get(organization=scope.organization)
    form = BillingProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        def save() -> None:
            billing_profile_update(organization=scope.organization, **_fields(form, PROFILE_FIELDS))
            upload = form.cleaned_data.get("logo_upload")
            if upload is not None:
                billing_profile_logo_set(organization=scope.organization, data=upload.read())
            elif form.cleaned_data.get("remove_logo"):
                billing_profile_logo_set(organization=scope.organization, data=b"")

        if _apply(form, save):
            messages.success(request, "Billing profile saved. Drafts show it now; finalized invoices keep theirs.")
            return redirect("portal:billing-settings")
    return render(request, "portal/billing_settings.html", {
        "scope": scope, "form": form, "profile": profile,
        "tax_rates": tax_rate_list(organization=scope.organization), "rate_form": TaxRateForm(),
    }, status=400 if form.errors else 200)


@vendor_admin_required
def tax_rate_new(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if _apply(form, lambda: tax_rate_create(organization_id=scope.organization.pk,
                                                **_fields(form, [f for f in RATE_FIELDS if f != "active"]))):
            messages.success(request, f"Tax rate {form.cleaned_data['name']} added.")
            return redirect("portal:billing-settings")
    return render(request, "portal/billing_tax_rate.html", {"scope": scope, "form": form, "rate": None},
                  status=400 if form.errors else 200)


@vendor_admin_required
@not_found_as_404
def tax_rate_edit(request: HttpRequest, tax_rate_id: int) -> HttpResponse:
    scope = scope_of(request)
    rate = tax_rate_get(organization=scope.organization, tax_rate_id=tax_rate_id)
    form = TaxRateForm(request.POST or None, instance=TaxRate.objects.get(pk=rate.pk))
    if request.method == "POST" and form.is_valid():
        if _apply(form, lambda: tax_rate_update(tax_rate=rate, **_fields(form, RATE_FIELDS))):
            messages.success(request, f"Tax rate {rate.name} saved. Finalized invoices keep the tax they were "
                                      "issued with.")
            return redirect("portal:billing-settings")
    return render(request, "portal/billing_tax_rate.html", {"scope": scope, "form": form, "rate": rate},
                  status=400 if form.errors else 200)


@vendor_admin_required
@not_found_as_404
def customer_billing_page(request: HttpRequest, external_id: str) -> HttpResponse:
    scope = scope_of(request)
    customer = customer_get(organization=scope.organization, external_id=external_id)
    form = CustomerBillingForm(request.POST or None, instance=Customer.objects.get(pk=customer.pk),
                               organization_id=scope.organization.pk,
                               initial={"tax_rates": customer_assigned_tax_rates(customer=customer)})
    if request.method == "POST" and form.is_valid():
        def save() -> None:
            customer_billing_update(customer=customer, **_fields(form, CUSTOMER_FIELDS))
            customer_tax_rates_set(customer=customer, tax_rate_ids=[r.pk for r in form.cleaned_data["tax_rates"]])

        if _apply(form, save):
            messages.success(request, f"Billing details of {customer.name} saved.")
            return redirect("portal:customer-billing", external_id=customer.external_id)
    return render(request, "portal/billing_customer.html", {"scope": scope, "form": form, "customer": customer},
                  status=400 if form.errors else 200)
