"""The vendor console's audit log: every change to prices, documents, keys and users. Vendor admins only."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.selectors import AUDITED, audit_event_list
from portal.access import scope_of, vendor_admin_required
from portal.pagination import paginate


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(
        required=False, choices=[("", "Everything"), *((key, label) for key, (label, _) in AUDITED.items())]
    )
    day_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


@vendor_admin_required
def audit_log_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_event_list(
        organization=scope.organization,
        object_type=filters.get("object_type") or None,
        day_from=filters.get("day_from"),
        day_to=filters.get("day_to"),
    )
    return render(
        request,
        "portal/audit_log.html",
        {"scope": scope, "form": form, "page": paginate(request, events), "types": AUDITED},
    )
