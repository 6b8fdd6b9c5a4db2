"""The credit-note form: search and select lines (by task id, outcome type, kind), a page at a time,
the chosen lines kept across searches and pages, instead of hundreds of checkboxes."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import CreditNote, Invoice
from billing.services.finalize import invoice_finalize
from tests.conftest import Vendor
from tests.factories import OutcomeTypeFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_invoice(vendor: Vendor) -> Invoice:
    """A finalized October invoice with 120 ticket lines and 5 code-review lines."""
    from tests.billing.scenario import post_outcomes, reconcile

    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Ticket resolved",
                              price=Decimal("1"))
    OutcomeTypeFactory.create(organization=vendor.organization, code="code_review", name="Code review",
                              price=Decimal("4"))
    events = [
        {"idempotency_key": f"t{n}", "customer": "acme", "outcome": "ticket_resolved", "task_id": f"zendesk-{n:04d}",
         "timestamp": "2026-10-05T10:00:00Z"}
        for n in range(120)
    ] + [
        {"idempotency_key": f"r{n}", "customer": "acme", "outcome": "code_review", "task_id": f"pr-{n}",
         "timestamp": "2026-10-06T10:00:00Z"}
        for n in range(5)
    ]
    post_outcomes(vendor.organization, events)
    return invoice_finalize(invoice=reconcile(vendor.customer))


def _shown(response) -> list[str]:
    return [line.task_id for line in response.context["lines"]]


def test_the_form_pages_lines_instead_of_listing_them_all(vendor, big_invoice) -> None:
    response = login(vendor.admin).get(reverse("portal:invoice-credit-note", args=[big_invoice.pk]))
    assert response.status_code == 200
    assert len(response.context["lines"]) == 50
    assert response.content.decode().count('type="checkbox" name="lines"') == 50
    assert "Page 1 of 3 · 125 matching of 125 creditable lines" in response.content.decode()


def test_search_by_task_id_and_by_outcome_type(vendor, big_invoice) -> None:
    client = login(vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[big_invoice.pk])
    by_task = client.post(url, {"action": "search", "q": "zendesk-001"})
    assert sorted(_shown(by_task)) == [f"zendesk-{n:04d}" for n in range(10, 20)]
    by_type = client.post(url, {"action": "search", "outcome_type": "code_review"})
    assert sorted(_shown(by_type)) == [f"pr-{n}" for n in range(5)]
    unknown = client.post(url, {"action": "search", "outcome_type": "nope"})
    assert "Select a valid choice" in unknown.content.decode() or len(_shown(unknown)) == 50


def test_chosen_lines_are_kept_across_searches_and_pages_then_credited(vendor, big_invoice) -> None:
    client = login(vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[big_invoice.pk])
    ticket = big_invoice.lines.get(task_id="zendesk-0007")
    review = big_invoice.lines.get(task_id="pr-3")

    # Choose a ticket found by its id, then search for code reviews: the ticket stays chosen (hidden).
    found = client.post(url, {"action": "search", "q": "zendesk-0007", "reason": "Duplicates of other work"})
    assert _shown(found) == ["zendesk-0007"]
    reviews = client.post(url, {"action": "search", "outcome_type": "code_review", "lines": [ticket.pk],
                                "reason": "Duplicates of other work"})
    html = reviews.content.decode()
    assert f'<input type="hidden" name="lines" value="{ticket.pk}">' in html
    assert "Selected: 1 line · 1.00 USD" in html
    assert "Duplicates of other work" in html  # what was typed survives the search

    # Turn to page 2 of everything with both chosen: both kept, neither is on page 2.
    page_two = client.post(url, {"action": "search", "page": "2", "lines": [ticket.pk, review.pk]})
    assert page_two.context["page"].number == 2
    assert set(page_two.context["kept"]) == {ticket.pk, review.pk} - {line.pk for line in page_two.context["lines"]}
    assert "Selected: 2 lines · 5.00 USD" in page_two.content.decode()

    # Issue: the credit note credits exactly the two chosen lines.
    issued = client.post(url, {"action": "issue", "reason": "Duplicates of other work",
                               "lines": [ticket.pk, review.pk]})
    assert issued.status_code == 302
    note = CreditNote.objects.get()
    assert note.total == Decimal("5.00")
    assert {line.invoice_line_id for line in note.lines.all()} == {ticket.pk, review.pk}


def test_select_all_matching_then_clear(vendor, big_invoice) -> None:
    client = login(vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[big_invoice.pk])
    everything = client.post(url, {"action": "select_all", "outcome_type": "code_review"})
    assert len(everything.context["selected"]) == 5
    assert "Selected: 5 lines · 20.00 USD" in everything.content.decode()
    chosen = [line.pk for line in everything.context["selected"]]
    cleared = client.post(url, {"action": "clear", "lines": chosen})
    assert cleared.context["selected"] == []


def test_another_invoices_line_cannot_be_kept_or_credited(vendor, big_invoice) -> None:
    client = login(vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[big_invoice.pk])
    kept = client.post(url, {"action": "search", "lines": ["999999", "not-a-number", "9" * 40]})
    assert kept.status_code == 200 and kept.context["selected"] == []
    refused = client.post(url, {"action": "issue", "reason": "Another invoice's line", "lines": ["999999"]})
    assert refused.status_code == 400 and b"Select a valid choice" in refused.content
    assert not CreditNote.objects.exists()


def test_the_search_query_count_does_not_grow_with_lines(vendor, big_invoice, django_assert_max_num_queries) -> None:
    client = login(vendor.admin)
    url = reverse("portal:invoice-credit-note", args=[big_invoice.pk])
    chosen = list(big_invoice.lines.values_list("pk", flat=True)[:40])
    with django_assert_max_num_queries(14):
        client.post(url, {"action": "search", "lines": chosen, "page": "2"})
