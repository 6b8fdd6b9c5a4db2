"""The vendor admin's invoice actions: finalize, mark paid, void, issue a credit note.

Each action has a confirmation page (GET) and does its work on POST, through the billing services;
a refusal from a service (a `DomainError`) comes back to the page as a message, never as a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
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
from portal.forms import CreditNoteForm

# The credit-note form lists this many creditable lines; a larger correction is credited as an amount.
CREDITABLE_LIMIT = 300


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
    scope = scope_of(request)
    invoice = invoice_get(organization=scope.organization, invoice_id=invoice_id)
    if not can_credit(invoice):
        messages.error(
            request, f"A {invoice.status} invoice cannot be credited; only finalized or paid ones."
        )
        return redirect("portal:invoice-detail", invoice.pk)
    lines = invoice_line_creditable_list(invoice=invoice)
    form = CreditNoteForm(request.POST or None, lines=lines, currency=invoice.currency)
    if request.method == "POST" and form.is_valid():
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
    listed = list(lines[: CREDITABLE_LIMIT + 1])
    chosen = {str(pk) for pk in form["lines"].value() or []}
    return render(
        request,
        "portal/credit_note_form.html",
        {
            "scope": scope,
            "invoice": invoice,
            "form": form,
            "lines": listed[:CREDITABLE_LIMIT],
            "more_lines": len(listed) > CREDITABLE_LIMIT,
            "chosen": chosen,
        },
        status=400 if request.method == "POST" else 200,
    )
