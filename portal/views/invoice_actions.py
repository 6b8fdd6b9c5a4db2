"""The vendor admin's invoice actions: finalize, mark paid, void, issue a credit note.

Each action has a confirmation page (GET) and does its work on POST, through the billing services;
a refusal from a service (a `DomainError`) comes back to the page as a message, never as a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from billing.models import Invoice
from billing.selectors.invoices import invoice_get, invoice_line_creditable_list
from billing.services.credit_notes import credit_note_create
from billing.services.finalize import invoice_finalize, invoice_mark_paid, invoice_void
from core.errors import DomainError
from portal.access import not_found_as_404, scope_of, vendor_admin_required
from portal.forms import CreditLineSearchForm, CreditNoteForm, creditable_outcome_types

# The credit-note form shows creditable lines a page at a time; search narrows them down.
CREDIT_LINES_PER_PAGE = 50


@dataclass(frozen=True)
class Action:
    slug: str
    title: str
    button: str
    allowed_from: tuple[str, ...]
    explanation: str
    done: str
    run: Callable[[Invoice, HttpRequest], Invoice]
    confirm: str  # the confirmation page's button
    danger: bool = False


ACTIONS: dict[str, Action] = {
    action.slug: action
    for action in (
        Action(
            slug="finalize",
            title="Finalize invoice",
            button="Finalize",
            allowed_from=(Invoice.Status.DRAFT,),
            explanation=(
                "The draft is refreshed one last time, given the next invoice number, and frozen: its "
                "lines never change again, prepaid credits are drawn down and its outcomes are marked "
                "billed. Corrections after this are credit notes."
            ),
            done="Invoice {number} finalized.",
            run=lambda invoice, request: invoice_finalize(invoice=invoice, acting_user=request.user),  # type: ignore[arg-type]
            confirm="Finalize invoice",
        ),
        Action(
            slug="mark-paid",
            title="Mark invoice as paid",
            button="Mark as paid",
            allowed_from=(Invoice.Status.FINALIZED,),
            explanation="Records that the customer has paid this invoice in full, as of now.",
            done="Invoice {number} marked paid.",
            run=lambda invoice, request: invoice_mark_paid(invoice=invoice),
            confirm="Mark as paid",
        ),
        Action(
            slug="void",
            title="Void invoice",
            button="Void",
            allowed_from=(Invoice.Status.FINALIZED,),
            explanation=(
                "Cancels this unpaid invoice. Its number stays used; its outcomes become billable again "
                "and land on the customer's next draft as prior-period lines, and any prepaid credits "
                "it drew go back to the wallet."
            ),
            done="Invoice {number} voided.",
            run=lambda invoice, request: invoice_void(invoice=invoice, acting_user=request.user),  # type: ignore[arg-type]
            confirm="Void invoice",
            danger=True,
        ),
    )
}


def actions_for(invoice: Invoice) -> list[Action]:
    return [action for action in ACTIONS.values() if invoice.status in action.allowed_from]


def can_credit(invoice: Invoice) -> bool:
    return invoice.status in (Invoice.Status.FINALIZED, Invoice.Status.PAID)


@vendor_admin_required
@not_found_as_404
def invoice_action(request: HttpRequest, invoice_id: int, action: str) -> HttpResponse:
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id)
    chosen = ACTIONS[action]
    if request.method != "POST":
        return render(
            request,
            "portal/invoice_action_confirm.html",
            {
                "scope": scope,
                "invoice": invoice,
                "action": chosen,
                "allowed": invoice.status in chosen.allowed_from,
                # Finalizing before the period has ended freezes an invoice that may still grow.
                "period_open": chosen.slug == "finalize" and invoice.period_end > timezone.now().date(),
            },
        )
    try:
        # The services check the state under a row lock; the page's view of it may be stale.
        done = chosen.run(invoice, request)
    except DomainError as exc:
        messages.error(request, f"{chosen.title} failed: {exc.message}")
    else:
        if done.status == invoice.status:
            messages.info(request, f"Nothing to do: the invoice is already {done.status}.")
        else:
            messages.success(request, chosen.done.format(number=done.number or "(draft)"))
    return redirect("portal:invoice-detail", invoice.pk)


@vendor_admin_required
@not_found_as_404
def credit_note_new(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """One form, posted to itself: its search and page buttons re-render it with the chosen lines kept
    (hidden fields for those not on the page shown), its issue button issues the credit note."""
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id)
    if not can_credit(invoice):
        messages.error(
            request, f"A {invoice.status} invoice cannot be credited; only finalized or paid ones."
        )
        return redirect("portal:invoice-detail", invoice.pk)
    lines = invoice_line_creditable_list(invoice=invoice)
    data = request.POST if request.method == "POST" else None
    issuing = data is not None and data.get("action", "issue") == "issue"
    search = CreditLineSearchForm(data if data is not None else request.GET, types=creditable_outcome_types(lines))
    matching = search.filter(lines)
    chosen = search.chosen_ids(data, lines=lines, matching=matching)
    form = CreditNoteForm(data if issuing else None, lines=lines, currency=invoice.currency,
                          initial=_carried(data) if data is not None and not issuing else None)
    if issuing and form.is_valid():
        try:
            note = credit_note_create(invoice=invoice, reason=form.cleaned_data["reason"], items=form.items())
        except DomainError as exc:
            form.add_error(None, exc.message)
        except IntegrityError:
            # Two credit notes for the same outcome at once: the database's constraint keeps one.
            form.add_error(None, "One of these lines was credited by another credit note meanwhile; reload.")
        else:
            messages.success(
                request, f"Credit note {note.number} issued for {note.total.normalize():f} {note.currency}."
            )
            return redirect("portal:invoice-detail", invoice.pk)
    page = Paginator(matching, CREDIT_LINES_PER_PAGE).get_page(search.page_number(data))
    shown = {line.pk for line in page.object_list}
    selected = list(lines.filter(pk__in=chosen)) if chosen else []
    return render(
        request,
        "portal/credit_note_form.html",
        {
            "scope": scope,
            "invoice": invoice,
            "form": form,
            "search": search,
            "page": page,
            "lines": page.object_list,
            "chosen": {str(pk) for pk in chosen},
            "selected": selected,
            "selected_total": sum((line.amount for line in selected), Decimal(0)),
            "kept": [pk for pk in chosen if pk not in shown],  # chosen lines not on this page: hidden fields
            "creditable_count": lines.count(),
        },
        status=400 if issuing else 200,
    )


def _carried(data: Any) -> dict[str, Any]:
    """What the person typed, carried through a search: shown again, not validated yet."""
    return {name: data.get(name, "") for name in ("reason", "amount", "description")}
