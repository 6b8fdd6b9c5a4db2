"""The vendor console's Stripe pages: connecting Stripe (vendor admins), the reconciliation of Stripe's
state and ours, and the retry of an invoice's push. Secrets are never shown back, only their hints."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing.selectors.invoices import invoice_get
from core.errors import DomainError
from payments.selectors import reconciliation_list, stripe_account_of, stripe_events_recent
from payments.services.connect import stripe_connect, stripe_disconnect, stripe_settings_update
from payments.services.push import invoice_push_queue
from portal.access import not_found_as_404, scope_of, vendor_admin_required, vendor_required


class StripeConnectForm(forms.Form):
    secret_key = forms.CharField(
        max_length=255, required=False, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "sk_live_…"}),
        help_text="A secret key (sk_…) or a restricted key (rk_…) with write access to customers, invoices and "
                  "credit notes. Blank keeps the stored key.",
    )
    webhook_secret = forms.CharField(
        max_length=255, required=False, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "whsec_…"}),
        help_text="The signing secret of the webhook endpoint below. Blank keeps the stored one.",
    )
    automatic_tax = forms.BooleanField(
        required=False, label="Stripe Tax",
        help_text="Stripe Tax computes the tax of new invoices (drafts refreshed from now on) instead of your "
                  "tax rates; Stripe invoices then have automatic tax on.",
    )


def _settings_page(request: HttpRequest, form: StripeConnectForm, status: int = 200) -> HttpResponse:
    organization = scope_of(request).organization
    webhook_url = request.build_absolute_uri(reverse("payments:stripe-webhook", args=[organization.slug]))
    response = render(request, "portal/payments_settings.html", {
        "account": stripe_account_of(organization), "form": form, "webhook_url": webhook_url,
    }, status=status)
    response["Cache-Control"] = "no-store"
    return response


@vendor_admin_required
def stripe_settings_page(request: HttpRequest) -> HttpResponse:
    organization = scope_of(request).organization
    account = stripe_account_of(organization)
    if request.method != "POST":
        return _settings_page(request, StripeConnectForm(initial={"automatic_tax": bool(account and
                                                                                         account.automatic_tax)}))
    form = StripeConnectForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, form, status=400)
    data = form.cleaned_data
    try:
        if data["secret_key"]:
            account = stripe_connect(organization=organization, secret_key=data["secret_key"],
                                     webhook_secret=data["webhook_secret"], automatic_tax=data["automatic_tax"])
            messages.success(request, f"Stripe account {account.account_id} connected ({account.secret_key_hint}).")
        elif account is None:
            raise DomainError("Enter your Stripe secret key to connect.", field="secret_key")
        elif data["webhook_secret"]:
            raise DomainError("Enter the secret key again to change the webhook secret: it is checked with Stripe.",
                              field="secret_key")
        else:
            stripe_settings_update(organization=organization, automatic_tax=data["automatic_tax"])
            messages.success(request, "Stripe Tax is " + ("on." if data["automatic_tax"] else "off."))
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _settings_page(request, form, status=400)
    return redirect("portal:payments-settings")


@require_POST
@vendor_admin_required
def stripe_disconnect_action(request: HttpRequest) -> HttpResponse:
    stripe_disconnect(organization=scope_of(request).organization)
    messages.success(request, "Stripe disconnected: its keys are deleted and new invoices are no longer pushed.")
    return redirect("portal:payments-settings")


@vendor_required
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    organization = scope_of(request).organization
    return render(request, "portal/payments_reconciliation.html", {
        "account": stripe_account_of(organization),
        "disagreements": reconciliation_list(organization=organization),
        "events": stripe_events_recent(organization=organization),
    })


@require_POST
@vendor_admin_required
@not_found_as_404
def invoice_stripe_retry(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = invoice_get(organization=scope_of(request).organization, invoice_id=invoice_id)
    try:
        invoice_push_queue(invoice=invoice)
        messages.success(request, f"Invoice {invoice.number} is on its way to Stripe.")
    except DomainError as exc:
        messages.error(request, exc.message)
    target = request.POST.get("next", "")
    if target == "reconciliation":
        return redirect("portal:payments-reconciliation")
    return redirect("portal:invoice-detail", invoice_id=invoice.pk)
