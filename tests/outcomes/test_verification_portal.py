"""The customer's word in the portal: the Confirm outcomes page, its buttons, and the signed one-click link."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import api_key_create
from outcomes.confirmation_requests import confirmation_link_url, confirmation_requests_send
from outcomes.models import Dispute, OutcomeEvent, OutcomeEvidence
from outcomes.signing import confirmation_link_token
from outcomes.tasks import confirmation_requests_send_task
from tests.billing.scenario import post_outcomes
from tests.conftest import ApiClient
from tests.factories import CustomerFactory, OutcomeTypeFactory, UserFactory
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(vendor) -> OutcomeEvent:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    post_outcomes(vendor.organization, [{"idempotency_key": "o1", "customer": "acme", "outcome": "ticket_resolved",
                                         "task_id": "ZD-4711", "timestamp": "2026-10-05T12:00:00Z"}])
    return OutcomeEvent.objects.get(idempotency_key="o1")


def _link_path(event: OutcomeEvent) -> str:
    token = confirmation_link_token(organization_id=event.organization_id, customer_id=event.customer_id,
                                    event_id=event.pk)
    return reverse("portal:confirm-link", args=[token])


def test_the_finance_user_confirms_from_the_list(awaiting, finance_user) -> None:
    client = login(finance_user)
    page = client.get(reverse("portal:confirm-list"))
    assert page.status_code == 200 and b"ZD-4711" in page.content

    client.post(reverse("portal:confirm-outcome", args=[awaiting.pk]))

    awaiting.refresh_from_db()
    assert awaiting.status == "verified" and awaiting.confirmed_at is not None
    evidence = OutcomeEvidence.objects.get(outcome_event=awaiting)
    assert (evidence.actor_user, evidence.method) == (finance_user, "customer_confirmation")
    assert b"Nothing awaits your confirmation" in client.get(reverse("portal:confirm-list")).content


def test_the_finance_user_rejects_with_a_reason_and_a_dispute_opens(awaiting, finance_user) -> None:
    client = login(finance_user)
    client.post(reverse("portal:reject-outcome", args=[awaiting.pk]), {"reason": "still broken"})
    awaiting.refresh_from_db()
    assert awaiting.status == "disputed"
    assert Dispute.objects.get(outcome_event=awaiting).opened_by == finance_user


def test_the_vendor_and_other_customers_cannot_answer(awaiting, vendor, stranger) -> None:
    globex = CustomerFactory.create(organization=vendor.organization, external_id="globex")
    globex_user = UserFactory.create(organization=vendor.organization, customer=globex,
                                     role=User.Role.CUSTOMER_FINANCE, username="globex-finance")
    confirm = reverse("portal:confirm-outcome", args=[awaiting.pk])

    assert login(vendor.admin).post(confirm).status_code == 403
    assert login(vendor.admin).get(reverse("portal:confirm-list")).status_code == 403
    assert login(globex_user).post(confirm).status_code == 404
    assert login(stranger.admin).post(confirm).status_code == 403
    assert Client().post(confirm).status_code == 302  # to the login page
    awaiting.refresh_from_db()
    assert awaiting.status == "pending" and not OutcomeEvidence.objects.exists()


def test_the_one_click_link_asks_on_get_and_confirms_on_post(awaiting) -> None:
    client = Client()
    path = _link_path(awaiting)

    page = client.get(path)
    assert page.status_code == 200 and b"ZD-4711" in page.content and b"Confirm this outcome" in page.content
    awaiting.refresh_from_db()
    assert awaiting.status == "pending"  # a mail scanner following the link changes nothing

    done = client.post(path, {"decision": "confirm"})
    assert done.status_code == 200 and b"the outcome is confirmed" in done.content
    awaiting.refresh_from_db()
    assert awaiting.status == "verified"
    assert OutcomeEvidence.objects.get(outcome_event=awaiting).actor_label == "link:acme"


def test_the_one_click_link_rejects_with_a_reason(awaiting) -> None:
    Client().post(_link_path(awaiting), {"decision": "reject", "reason": "not solved at all"})
    awaiting.refresh_from_db()
    assert awaiting.status == "disputed"


def test_a_tampered_or_expired_link_does_nothing(awaiting) -> None:
    path = _link_path(awaiting)
    tampered = path.replace(path.split("/")[-2], path.split("/")[-2][:-2] + "xx")
    answer = Client().post(tampered, {"decision": "confirm"})
    assert answer.status_code == 400 and b"not valid" in answer.content
    with override_settings(OUTCOME_CONFIRMATION_LINK_DAYS=-1):
        answer = Client().post(path, {"decision": "confirm"})
    assert answer.status_code == 400 and b"expired" in answer.content
    awaiting.refresh_from_db()
    assert awaiting.status == "pending"


def test_the_daily_email_carries_a_link_per_outcome(awaiting, vendor) -> None:
    vendor.customer.billing_email = "ap@acme.example"
    vendor.customer.save()
    received = awaiting.received_at

    sent = confirmation_requests_send(since=received.replace(hour=0, minute=0, second=0, microsecond=0),
                                      until=datetime(2100, 1, 1, tzinfo=UTC))

    assert sent == 1
    [message] = mail.outbox
    assert message.to == ["ap@acme.example"]
    link = confirmation_link_url(event=awaiting)
    assert link in message.body and "ZD-4711" in message.body
    # The emailed link works.
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert Client().get("/" + path).status_code == 200


def test_the_daily_task_asks_once_a_day(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    vendor.customer.billing_email = "ap@acme.example"
    vendor.customer.save()
    post_outcomes(vendor.organization, [{"idempotency_key": "o1", "customer": "acme", "outcome": "ticket_resolved",
                                         "task_id": "ZD-1", "timestamp": "2026-10-05T12:00:00Z"}])
    # Received yesterday: the digest of today's run covers it.
    OutcomeEvent.objects.update(received_at=timezone.now() - timedelta(days=1))
    cache.clear()

    assert confirmation_requests_send_task.delay().get() == 1
    assert confirmation_requests_send_task.delay().get() == 0
    assert len(mail.outbox) == 1


def test_the_confirm_page_and_api_query_counts_do_not_grow_with_outcomes(
    awaiting, vendor, finance_user, django_assert_num_queries
) -> None:
    _, raw = api_key_create(organization=vendor.organization, customer=vendor.customer, scope="read")
    api = ApiClient(raw)
    client = login(finance_user)
    page, listed = reverse("portal:confirm-list"), "/api/v1/outcome-confirmations"
    # session, user, organization, customer, the awaiting outcomes with their types, their evidence
    with django_assert_num_queries(6):
        assert client.get(page).status_code == 200
    api.get(listed)  # the key is looked up once, then remembered
    # the key's customer, the awaiting outcomes with their types
    with django_assert_num_queries(2):
        assert len(api.get(listed).json()) == 1
    post_outcomes(vendor.organization, [
        {"idempotency_key": f"more-{n}", "customer": "acme", "outcome": "ticket_resolved", "task_id": f"T-{n}",
         "timestamp": "2026-10-06T12:00:00Z"} for n in range(20)])
    with django_assert_num_queries(6):
        assert client.get(page).content.count(b"<details class=\"dispute\">") == 21
    with django_assert_num_queries(2):
        assert len(api.get(listed).json()) == 21
