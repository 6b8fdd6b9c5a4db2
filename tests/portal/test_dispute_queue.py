"""The disputes page: the vendor's queue, settled by a vendor admin through `dispute_resolve`; a
customer's own disputes, read-only; nobody sees another tenant's or another customer's."""

import pytest
from django.urls import reverse

from outcomes.models import Dispute, OutcomeEvent
from outcomes.services import dispute_resolve, outcome_event_dispute
from tests.portal.conftest import Billed, login

pytestmark = pytest.mark.django_db

LIST = reverse("portal:dispute-list")


def _dispute(billed: Billed, key: str, user, reason: str = "The ticket was reopened") -> Dispute:
    return outcome_event_dispute(
        organization=billed.vendor.organization,
        idempotency_key=key,
        reason=reason,
        actor_user=user,
        actor_label=f"portal:{user.username}",
        customer_id=user.customer_id,
    )


@pytest.fixture
def disputed(billed, finance_user, globex_finance) -> tuple[Dispute, Dispute]:
    return (
        _dispute(billed, "o-ticket-2026-10-1", finance_user),
        _dispute(billed, "o-globex-secret-2026-10", globex_finance, reason="Globex private reason"),
    )


def test_vendor_admin_sees_the_open_queue_with_who_and_why(billed, disputed) -> None:
    response = login(billed.vendor.admin).get(LIST)

    html = response.content.decode()
    assert [d.pk for d in response.context["open_page"]] == [d.pk for d in disputed]
    assert "Acme Corp" in html and "Globex Inc" in html
    assert "ticket-2026-10-1" in html and "Ticket resolved" in html and "The ticket was reopened" in html
    assert "acme-finance" in html
    invoice = billed.invoice("acme", "2026-10")
    assert reverse("portal:task-detail", args=[invoice.pk, "ticket-2026-10-1"]) in html
    assert html.count('name="decision" value="accept"') == 2


def test_accepting_reverses_the_outcome_and_moves_it_to_resolved(billed, disputed) -> None:
    dispute = disputed[0]
    response = login(billed.vendor.admin).post(
        reverse("portal:dispute-resolve", args=[dispute.pk]),
        {"decision": "accept", "note": "Confirmed duplicate"},
        follow=True,
    )

    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution_note, dispute.resolved_by) == (
        "accepted",
        "Confirmed duplicate",
        billed.vendor.admin,
    )
    assert OutcomeEvent.objects.get(pk=dispute.outcome_event_id).status == OutcomeEvent.Status.REVERSED
    assert "Dispute on ticket-2026-10-1 accepted" in response.content.decode()
    assert [d.pk for d in response.context["resolved_page"]] == [dispute.pk]
    assert [d.pk for d in response.context["open_page"]] == [disputed[1].pk]


def test_rejecting_returns_the_outcome_to_billing(billed, disputed) -> None:
    dispute = disputed[0]
    login(billed.vendor.admin).post(
        reverse("portal:dispute-resolve", args=[dispute.pk]),
        {"decision": "reject", "note": "Logs show it closed"},
    )
    dispute.refresh_from_db()
    assert dispute.status == "rejected"
    assert OutcomeEvent.objects.get(pk=dispute.outcome_event_id).status == dispute.status_before


def test_a_second_decision_is_refused_on_the_page(billed, disputed) -> None:
    client = login(billed.vendor.admin)
    url = reverse("portal:dispute-resolve", args=[disputed[0].pk])
    client.post(url, {"decision": "reject", "note": "first"})

    again = client.post(url, {"decision": "accept", "note": "second"}, follow=True)
    no_note = client.post(
        reverse("portal:dispute-resolve", args=[disputed[1].pk]), {"decision": "accept"}, follow=True
    )

    assert again.status_code == 200
    assert "The dispute was not resolved: The dispute is already rejected." in again.content.decode()
    assert b"write a note" in no_note.content
    assert Dispute.objects.get(pk=disputed[1].pk).status == "open"


def test_vendor_member_reads_the_queue_but_cannot_decide(billed, disputed, vendor_member) -> None:
    client = login(vendor_member)
    response = client.get(LIST)
    assert len(response.context["open_page"]) == 2
    assert b'name="decision"' not in response.content
    post = client.post(
        reverse("portal:dispute-resolve", args=[disputed[0].pk]), {"decision": "accept", "note": "ok"}
    )
    assert post.status_code == 403
    assert Dispute.objects.get(pk=disputed[0].pk).status == "open"


def test_customer_sees_only_its_own_disputes_and_the_decision(billed, disputed, finance_user) -> None:
    dispute_resolve(
        organization=billed.vendor.organization,
        dispute_id=disputed[0].pk,
        accept=True,
        note="Refunded, sorry",
        actor_user=billed.vendor.admin,
    )
    client = login(finance_user)

    response = client.get(LIST)

    html = response.content.decode()
    assert "My disputes" in html
    assert list(response.context["open_page"]) == []
    assert [d.pk for d in response.context["resolved_page"]] == [disputed[0].pk]
    assert "Refunded, sorry" in html and "accepted" in html
    assert "Globex" not in html and "globex-secret" not in html
    assert billed.vendor.admin.username not in html  # the vendor's staff are not named to customers
    assert b'name="decision"' not in response.content
    post = client.post(
        reverse("portal:dispute-resolve", args=[disputed[1].pk]), {"decision": "accept", "note": "x" * 5}
    )
    assert post.status_code == 403
    assert Dispute.objects.get(pk=disputed[1].pk).status == "open"


def test_customer_sees_the_dispute_status_on_the_task_page(billed, disputed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    html = (
        login(finance_user).get(reverse("portal:task-detail", args=[invoice.pk, "ticket-2026-10-1"])).content
    )
    assert b'Dispute <span class="badge open">open</span>' in html
    assert b"Held out of billing until the vendor decides" in html


def test_stranger_sees_no_disputes_and_cannot_resolve_the_vendors(billed, disputed, stranger) -> None:
    client = login(stranger.admin)
    response = client.get(LIST)
    assert list(response.context["open_page"]) == [] and list(response.context["resolved_page"]) == []
    assert b"Acme" not in response.content

    post = client.post(
        reverse("portal:dispute-resolve", args=[disputed[0].pk]), {"decision": "accept", "note": "mine"}
    )

    assert post.status_code == 404
    assert Dispute.objects.get(pk=disputed[0].pk).status == "open"


def test_resolving_needs_the_csrf_token(billed, disputed) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(billed.vendor.admin)
    response = client.post(
        reverse("portal:dispute-resolve", args=[disputed[0].pk]), {"decision": "accept", "note": "ok"}
    )
    assert response.status_code == 403


def test_disputes_page_query_count_does_not_grow_with_disputes(
    billed, finance_user, django_assert_num_queries
) -> None:
    client = login(billed.vendor.admin)
    keys = [f"o-ticket-2026-{month}-{n}" for month in ("08", "09", "10") for n in (1, 2, 3)]
    _dispute(billed, keys[0], finance_user)
    resolved = _dispute(billed, keys[1], finance_user)
    dispute_resolve(
        organization=billed.vendor.organization,
        dispute_id=resolved.pk,
        accept=False,
        note="no",
        actor_user=billed.vendor.admin,
    )
    # session, user, organization, open count, open page, the open outcomes' evidence, resolved count, resolved page
    with django_assert_num_queries(8):
        client.get(LIST)
    for index, key in enumerate(keys[2:]):
        dispute = _dispute(billed, key, finance_user)
        if index % 2:
            dispute_resolve(
                organization=billed.vendor.organization,
                dispute_id=dispute.pk,
                accept=True,
                note="yes",
                actor_user=billed.vendor.admin,
            )
    with django_assert_num_queries(8):
        response = client.get(LIST)
    assert len(response.context["open_page"]) + len(response.context["resolved_page"]) == len(keys)
