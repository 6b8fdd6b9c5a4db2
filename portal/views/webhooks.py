"""The vendor console's webhooks: endpoints (subscribe, secret shown once, enable/disable, delete) and each
endpoint's delivery log with a resend button. Vendor admins only, as API keys: the secret signs."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from portal.access import not_found_as_404, scope_of, vendor_admin_required
from webhooks.events import EVENT_CHOICES, EVENT_DESCRIPTIONS
from webhooks.models import WebhookEndpoint
from webhooks.selectors import delivery_get, delivery_list, endpoint_get, endpoint_list
from webhooks.services.delivery import max_attempts
from webhooks.services.endpoints import delivery_resend, endpoint_create, endpoint_delete, endpoint_update

# Deliveries shown per page of an endpoint's log; older ones are reached with "Older".
LOG_PAGE = 50


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https",
                         help_text="Receives a POST per event; its host must resolve to a public address.")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(value, f"{value} — {EVENT_DESCRIPTIONS[value]}") for value, _ in EVENT_CHOICES],
        widget=forms.CheckboxSelectMultiple,
    )


def _list_page(request: HttpRequest, form: EndpointForm, *, created: WebhookEndpoint | None = None,
               status: int = 200) -> HttpResponse:
    organization = scope_of(request).organization
    return render(request, "portal/webhooks_list.html", {
        "endpoints": endpoint_list(organization=organization), "form": form, "created": created,
    }, status=status)


@vendor_admin_required
def webhook_list_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _list_page(request, EndpointForm())
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        endpoint = endpoint_create(organization=scope_of(request).organization, url=form.cleaned_data["url"],
                                   events=form.cleaned_data["events"], description=form.cleaned_data["description"])
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _list_page(request, form, status=400)
    # Rendered, not redirected: the secret is shown in this answer only.
    response = _list_page(request, EndpointForm(), created=endpoint)
    response["Cache-Control"] = "no-store"
    return response


@vendor_admin_required
@not_found_as_404
def webhook_detail_page(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_get(organization=scope_of(request).organization, endpoint_id=endpoint_id)
    before = request.GET.get("before", "")
    rows = delivery_list(endpoint=endpoint, before_id=int(before) if before.isdigit() else None, limit=LOG_PAGE)
    return render(request, "portal/webhooks_detail.html", {
        "endpoint": endpoint, "deliveries": rows[:LOG_PAGE],
        "next_before": rows[LOG_PAGE - 1].pk if len(rows) > LOG_PAGE else None, "max_attempts": max_attempts(),
    })


@require_POST
@vendor_admin_required
@not_found_as_404
def webhook_toggle_action(request: HttpRequest, endpoint_id: int, enable: bool) -> HttpResponse:
    endpoint = endpoint_get(organization=scope_of(request).organization, endpoint_id=endpoint_id)
    endpoint_update(endpoint=endpoint, enabled=enable)
    messages.success(request, f"{endpoint.url} is {'enabled' if enable else 'disabled'}.")
    return redirect("portal:webhook-detail", endpoint_id=endpoint.pk)


@require_POST
@vendor_admin_required
@not_found_as_404
def webhook_delete_action(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = endpoint_get(organization=scope_of(request).organization, endpoint_id=endpoint_id)
    endpoint_delete(endpoint=endpoint)
    messages.success(request, f"{endpoint.url} is deleted; it receives nothing more.")
    return redirect("portal:webhook-list")


@require_POST
@vendor_admin_required
@not_found_as_404
def webhook_resend_action(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = endpoint_get(organization=scope_of(request).organization, endpoint_id=endpoint_id)
    delivery = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    try:
        delivery_resend(delivery=delivery)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Event {delivery.event.event_id} is queued to be sent again.")
    return redirect("portal:webhook-detail", endpoint_id=endpoint.pk)
