"""The vendor console's API keys: create (the key is shown once), list, revoke. Vendor admins only."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import ApiKey
from accounts.selectors import api_key_list
from accounts.services import api_key_create, api_key_revoke
from portal.access import not_found_as_404, scope_of, vendor_admin_required


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. “ingestion, prod”.")
    scope = forms.ChoiceField(choices=ApiKey.Scope.choices, initial=ApiKey.Scope.INGEST)


def _page(request: HttpRequest, form: ApiKeyForm, raw_key: str | None = None, status: int = 200) -> HttpResponse:
    scope = scope_of(request)
    return render(
        request,
        "portal/keys.html",
        {"scope": scope, "keys": api_key_list(organization=scope.organization), "form": form, "raw_key": raw_key},
        status=status,
    )


@vendor_admin_required
def api_key_list_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return _page(request, form, status=400)
        api_key, raw_key = api_key_create(
            organization=scope_of(request).organization, name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
        )
        # Rendered, not redirected: the raw key exists only in this answer and is never stored.
        response = _page(request, ApiKeyForm(), raw_key=raw_key)
        response["Cache-Control"] = "no-store"
        return response
    return _page(request, ApiKeyForm())


@require_POST
@vendor_admin_required
@not_found_as_404
def api_key_revoke_action(request: HttpRequest, api_key_id: int) -> HttpResponse:
    api_key = api_key_revoke(organization=scope_of(request).organization, api_key_id=api_key_id)
    messages.success(request, f"Key {api_key.prefix}… ({api_key.name}) is revoked; it is refused from now on.")
    return redirect("portal:api-key-list")
