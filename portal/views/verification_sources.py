"""The vendor console's verification sources: the systems that confirm or reject outcomes by signed
callbacks (a help desk, a code host, an evaluator). Add one (its secret shown once), see its callback
address and its last evidence, rotate its secret (the old one stops at once). Vendor admins only."""

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from outcomes.enums import SourceMethod
from outcomes.selectors import verification_source_list
from outcomes.verification import verification_source_create, verification_source_secret_rotate
from portal.access import not_found_as_404, scope_of, vendor_admin_required


class SourceForm(forms.Form):
    code = forms.SlugField(max_length=100, help_text="Part of its callback address, e.g. zendesk.")
    name = forms.CharField(max_length=200)
    method = forms.ChoiceField(choices=SourceMethod.choices, initial=SourceMethod.SYSTEM_OF_RECORD,
                               help_text="A system of record says what happened; an evaluator sends a score.")


def _page(request: HttpRequest, form: SourceForm, *, shown: Any = None,  # a VerificationSource
          rotated: bool = False, status: int = 200) -> HttpResponse:
    organization = scope_of(request).organization
    response = render(request, "portal/verification_sources.html", {
        "sources": verification_source_list(organization_id=organization.pk), "form": form, "shown": shown,
        "rotated": rotated, "callback_base": request.build_absolute_uri(f"/api/v1/verification/{organization.slug}/"),
    }, status=status)
    if shown is not None:  # the secret is in this answer only
        response["Cache-Control"] = "no-store"
    return response


@vendor_admin_required
def verification_source_list_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, SourceForm())
    form = SourceForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        source = verification_source_create(organization=scope_of(request).organization, **form.cleaned_data)
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _page(request, form, status=exc.status)
    return _page(request, SourceForm(), shown=source)


@require_POST
@vendor_admin_required
@not_found_as_404
def verification_source_rotate_action(request: HttpRequest, code: str) -> HttpResponse:
    source = verification_source_secret_rotate(organization=scope_of(request).organization, code=code)
    return _page(request, SourceForm(), shown=source, rotated=True)
