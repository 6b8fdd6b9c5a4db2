"""The invoice page shows what the engine now produces (kinds, pricing notes, prior-period lines,
credits, credit notes, status dates), and a vendor admin finalizes, marks paid, voids and credits
from it through the real billing services. Nobody else can."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CreditNote, Invoice
from billing.services.credit_notes import CreditSpec, credit_note_create
from outcomes.models import OutcomeEvent
from tests.billing.scenario import NOVEMBER, outcomes, post_outcomes, reconcile
from tests.portal.conftest import Priced, login

pytestmark = pytest.mark.django_db


def _page(client: Client, invoice: Invoice) -> str:
    response = client.get(reverse("portal:invoice-detail", args=[invoice.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_draft_shows_kinds_notes_and_a_labelled_prior_period_group(priced: Priced) -> None:
    page = _page(login(priced.vendor.admin), priced.november)
    html = page[page.index("Itemization"):]  # below the document's summary, which names the prior period too

    assert "This period 2026-11" in html and "Prior period 2026-10" in html
    assert (
        html.index("This period 2026-11")
        < html.index("Prior period 2026-10")
        < html.index("Fees and credits")
    )
    for kind in ("Outcome", "Credit", "Platform fee"):
        assert f'">{kind}</span>' in html
    for note in ("reversal credit", "tier 2", "tier 1", "included"):
        assert f'<span class="note">{note}</span>' in html
    assert f'Reverses line 7 of invoice <a href="/invoices/{priced.october.pk}/">INV-000001</a>' in html
    assert "Version 1" in page


def test_finalized_invoice_shows_prepaid_credits_and_its_dates(priced: Priced) -> None:
    html = _page(login(priced.vendor.admin), priced.october)

    assert "−5.00 USD" in html  # the prepaid drawdown, in the card and in the totals
    assert "Prepaid credit</span>" in html
    assert f"{priced.october.finalized_at:%Y-%m-%d %H:%M} UTC" in html
    assert "No credit notes for this invoice" in html


def test_vendor_admin_finalizes_a_draft_from_the_portal_and_it_stays_frozen(priced: Priced) -> None:
    client = login(priced.vendor.admin)
    url = reverse("portal:invoice-finalize", args=[priced.november.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and b"Finalize invoice?" in confirm.content

    response = client.post(url, follow=True)

    november = Invoice.objects.get(pk=priced.november.pk)
    assert (november.status, november.number) == ("finalized", "INV-000002")
    assert "Invoice INV-000002 finalized." in response.content.decode()
    frozen = list(november.lines.order_by("position").values_list("kind", "outcome_event_id", "amount"))
    assert OutcomeEvent.objects.get(idempotency_key="late0").status == OutcomeEvent.Status.BILLED
    # Later events, and a later reconcile of the same period, leave the finalized lines as they were.
    post_outcomes(
        priced.vendor.organization, outcomes(priced.vendor.customer, 3, day=9, month=11, prefix="after")
    )
    assert reconcile(priced.vendor.customer, NOVEMBER).pk == november.pk
    assert (
        list(november.lines.order_by("position").values_list("kind", "outcome_event_id", "amount")) == frozen
    )
    assert Invoice.objects.get(pk=november.pk).total == november.total


def test_mark_paid_then_void_is_refused_on_the_page(priced: Priced) -> None:
    client = login(priced.vendor.admin)
    paid = client.post(reverse("portal:invoice-mark-paid", args=[priced.october.pk]), follow=True)
    assert "Invoice INV-000001 marked paid." in paid.content.decode()
    october = Invoice.objects.get(pk=priced.october.pk)
    assert october.status == "paid" and october.paid_at is not None
    assert f"{october.paid_at:%Y-%m-%d %H:%M} UTC" in paid.content.decode()

    void = client.post(reverse("portal:invoice-void", args=[priced.october.pk]), follow=True)

    assert void.status_code == 200
    assert "Void invoice failed: A paid invoice cannot be voided." in void.content.decode()
    assert Invoice.objects.get(pk=priced.october.pk).status == "paid"


def test_void_of_a_credited_invoice_is_refused_on_the_page(priced: Priced) -> None:
    line = priced.october.lines.filter(amount__gt=0, outcome_event__isnull=False).exclude(
        outcome_event__idempotency_key="o1").first()
    assert line is not None
    credit_note_create(invoice=priced.october, reason="refund", items=[CreditSpec(line.amount, "x", line)])

    void = login(priced.vendor.admin).post(reverse("portal:invoice-void", args=[priced.october.pk]), follow=True)

    assert "Void invoice failed: Invoice INV-000001 was credited (CN-000001" in void.content.decode()
    assert Invoice.objects.get(pk=priced.october.pk).status == "finalized"
    assert OutcomeEvent.objects.get(invoiceline=line).status == OutcomeEvent.Status.CREDITED


def test_void_returns_the_outcomes_to_billing(priced: Priced) -> None:
    response = login(priced.vendor.admin).post(
        reverse("portal:invoice-void", args=[priced.october.pk]), follow=True
    )
    october = Invoice.objects.get(pk=priced.october.pk)
    assert october.status == "void" and october.voided_at is not None
    assert "Invoice INV-000001 voided." in response.content.decode()
    assert "No actions: a void invoice is final." in response.content.decode()
    assert OutcomeEvent.objects.get(idempotency_key="o1").status == OutcomeEvent.Status.VERIFIED


def test_an_action_not_allowed_in_the_state_is_not_offered(priced: Priced) -> None:
    client = login(priced.vendor.admin)
    draft_page = _page(client, priced.november)
    final_page = _page(client, priced.october)
    refused = client.get(reverse("portal:invoice-void", args=[priced.november.pk]))

    assert "/finalize/" in draft_page and "/void/" not in draft_page and "Issue credit note" not in draft_page
    assert "/finalize/" not in final_page and "/void/" in final_page and "Issue credit note" in final_page
    assert b"This is not possible for a draft invoice" in refused.content


def test_vendor_member_reads_the_invoice_but_cannot_act(priced: Priced, vendor_member) -> None:
    client = login(vendor_member)
    html = _page(client, priced.november)
    assert "Read-only" in html and "/finalize/" not in html

    for name in (
        "portal:invoice-finalize",
        "portal:invoice-mark-paid",
        "portal:invoice-void",
        "portal:invoice-credit-note",
    ):
        assert client.get(reverse(name, args=[priced.october.pk])).status_code == 403
        assert client.post(reverse(name, args=[priced.november.pk])).status_code == 403
    assert Invoice.objects.get(pk=priced.november.pk).status == "draft"


def test_customer_never_sees_vendor_actions_and_cannot_post_them(priced: Priced, finance_user) -> None:
    client = login(finance_user)
    html = _page(client, priced.october)
    assert "Issue credit note" not in html and "/void/" not in html and "Read-only" not in html

    assert client.post(reverse("portal:invoice-finalize", args=[priced.november.pk])).status_code == 403
    assert (
        client.post(
            reverse("portal:invoice-credit-note", args=[priced.october.pk]),
            {"reason": "give me money", "amount": "5"},
        ).status_code
        == 403
    )
    assert Invoice.objects.get(pk=priced.november.pk).status == "draft"
    assert not CreditNote.objects.exists()


def test_stranger_cannot_act_on_the_vendors_invoice(priced: Priced, stranger) -> None:
    client = login(stranger.admin)
    assert client.post(reverse("portal:invoice-finalize", args=[priced.november.pk])).status_code == 404
    assert client.get(reverse("portal:invoice-credit-note", args=[priced.october.pk])).status_code == 404
    assert Invoice.objects.get(pk=priced.november.pk).status == "draft"


def test_actions_need_the_csrf_token(priced: Priced) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(priced.vendor.admin)
    response = client.post(reverse("portal:invoice-finalize", args=[priced.november.pk]))
    assert response.status_code == 403
    assert Invoice.objects.get(pk=priced.november.pk).status == "draft"


def test_credit_note_for_chosen_lines_and_an_amount(priced: Priced) -> None:
    client = login(priced.vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[priced.october.pk])
    line = priced.october.lines.get(position=2)
    form = client.get(url)
    offered = {line.pk for line in form.context["lines"]}
    # Free (included) lines, the already reversed-and-credited outcome and the prepaid line are not offered.
    assert {offered_line.position for offered_line in form.context["lines"]} == {2, 3, 4, 5, 6, 8}
    assert line.pk in offered

    response = client.post(
        url,
        {
            "reason": "Two tickets were duplicates",
            "lines": [line.pk],
            "amount": "1.25",
            "description": "Goodwill",
        },
        follow=True,
    )

    note = CreditNote.objects.get()
    assert (note.number, note.total, note.reason) == (
        "CN-000001",
        Decimal("3.25"),
        "Two tickets were duplicates",
    )
    html = response.content.decode()
    assert "Credit note CN-000001 issued for 3.25 USD." in html
    assert "Two tickets were duplicates" in html and "Goodwill" in html and "credited by CN-000001" in html
    assert line.outcome_event_id is not None
    assert OutcomeEvent.objects.get(invoiceline=line).status == OutcomeEvent.Status.CREDITED
    assert line.pk not in {offered_line.pk for offered_line in client.get(url).context["lines"]}


def test_credit_note_refusals_are_shown_on_the_form(priced: Priced) -> None:
    client = login(priced.vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[priced.october.pk])

    too_much = client.post(url, {"reason": "Refund everything", "amount": "999"})
    nothing = client.post(url, {"reason": "Refund nothing"})
    fractional = client.post(url, {"reason": "Refund a fraction", "amount": "0.001"})
    foreign = client.post(
        url, {"reason": "Another invoice's line", "lines": [priced.november.lines.all()[0].pk]}
    )

    assert too_much.status_code == 400 and b"Credits would exceed the invoice total" in too_much.content
    assert b"Choose at least one line to credit, or enter an amount." in nothing.content
    assert b"0.001 has more decimals than USD&#x27;s 2." in fractional.content
    assert foreign.status_code == 400 and b"Select a valid choice" in foreign.content
    assert not CreditNote.objects.exists()


def test_a_draft_cannot_be_credited(priced: Priced) -> None:
    response = login(priced.vendor.admin).get(
        reverse("portal:invoice-credit-note", args=[priced.november.pk]), follow=True
    )
    assert b"A draft invoice cannot be credited" in response.content


def test_invoice_page_with_credit_notes_has_a_pinned_query_count(
    priced: Priced, django_assert_num_queries
) -> None:
    client = login(priced.vendor.admin)
    october = priced.october
    credit_note_create(invoice=october, reason="first", items=[CreditSpec(Decimal("1"), "goodwill")])
    # session, user, organization, invoice (with its price book), line groups (the pager's count), lines,
    # credit notes, their lines; the period's figures (report, charges and outcomes by type, credit notes,
    # billed tasks' stored cost, the lines no longer standing or late with their tasks' lines);
    # the lines' evidence; the document (billing profile, summary, taxes); the Stripe panel (push, connection)
    with django_assert_num_queries(19):
        client.get(reverse("portal:invoice-detail", args=[october.pk]))
    for position in (2, 3, 4):
        line = october.lines.get(position=position)
        credit_note_create(
            invoice=october,
            reason=f"line {position}",
            items=[CreditSpec(line.amount, "dup", line), CreditSpec(Decimal("0.5"), "extra")],
        )
    with django_assert_num_queries(19):
        response = client.get(reverse("portal:invoice-detail", args=[october.pk]))
    assert len(response.context["credit_notes"]) == 4
