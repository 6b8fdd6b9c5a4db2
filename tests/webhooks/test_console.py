"""The console's webhooks pages: add an endpoint (secret shown once), its delivery log, resend, disable,
enable, delete; vendor admins only, and another organization's admin gets 404."""

from typing import Any

import pytest
from django.db import transaction

from accounts.models import User
from tests.conftest import Vendor
from tests.factories import UserFactory
from tests.portal.conftest import login
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import event_emit
from webhooks.services.endpoints import endpoint_create
from webhooks.services.relay import outbox_relay

pytestmark = pytest.mark.django_db
PUBLIC_URL = "https://93.184.215.14/tally-hooks"
LIST = "/settings/webhooks/"


def _endpoint_with_a_failed_delivery(vendor: Vendor) -> tuple[WebhookEndpoint, WebhookDelivery]:
    endpoint = endpoint_create(organization=vendor.organization, url=PUBLIC_URL, events=["invoice.paid"],
                               description="vendor-hook")
    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.paid", data={"invoice": {"id": 1}})
    outbox_relay()
    delivery = WebhookDelivery.objects.get()
    DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=delivery.created_at, status_code=500,
                                   latency_ms=42, succeeded=False, response_excerpt="receiver-said-no", error="HTTP 500")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8, next_attempt_at=None)
    return endpoint, delivery


def test_adding_an_endpoint_shows_its_secret_once(vendor: Vendor) -> None:
    client = login(vendor.admin)
    answer = client.post(LIST, {"url": PUBLIC_URL, "description": "erp", "events": ["invoice.paid", "invoice.overdue"]})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in answer.content.decode() and endpoint.events == ["invoice.overdue", "invoice.paid"]
    listed = client.get(LIST)
    assert PUBLIC_URL in listed.content.decode() and endpoint.secret not in listed.content.decode()
    assert endpoint.secret not in client.get(f"{LIST}{endpoint.pk}/").content.decode()


@pytest.mark.parametrize(("form", "message"), [
    ({"url": "http://10.0.0.7/hook", "events": ["invoice.paid"]}, "private or loopback"),
    ({"url": PUBLIC_URL}, "This field is required"),
    ({"url": "not a url", "events": ["invoice.paid"]}, "Enter a valid URL"),
])
def test_bad_input_is_shown_on_the_form(vendor: Vendor, form: dict[str, Any], message: str) -> None:
    answer = login(vendor.admin).post(LIST, form)
    assert answer.status_code == 400 and message in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_attempts_and_resends(vendor: Vendor, django_assert_max_num_queries: Any) -> None:
    endpoint, delivery = _endpoint_with_a_failed_delivery(vendor)
    client = login(vendor.admin)
    with django_assert_max_num_queries(12):
        page = client.get(f"{LIST}{endpoint.pk}/").content.decode()
    assert delivery.event.event_id in page and "receiver-said-no" in page and "42 ms" in page and "8 / 8" in page
    answer = client.post(f"{LIST}{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_disable_enable_and_delete(vendor: Vendor) -> None:
    endpoint, _ = _endpoint_with_a_failed_delivery(vendor)
    client = login(vendor.admin)
    client.post(f"{LIST}{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "Disabled by the vendor" in client.get(f"{LIST}{endpoint.pk}/").content.decode()
    client.post(f"{LIST}{endpoint.pk}/enable/")
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert client.post(f"{LIST}{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_the_nav_links_the_page_for_admins(vendor: Vendor) -> None:
    assert f'href="{LIST}"' in login(vendor.admin).get("/settings/api-keys/").content.decode()


def test_other_parties_never_see_or_change_an_endpoint(vendor: Vendor, stranger: Vendor) -> None:
    endpoint, delivery = _endpoint_with_a_failed_delivery(vendor)
    member = UserFactory.create(organization=vendor.organization, role=User.Role.VENDOR_MEMBER, username="member")
    finance = UserFactory.create(organization=vendor.organization, customer=vendor.customer,
                                 role=User.Role.CUSTOMER_FINANCE, username="finance")
    stranger_admin = login(stranger.admin)
    for path in [f"{LIST}{endpoint.pk}/"]:
        assert stranger_admin.get(path).status_code == 404
    for action in ["disable/", "enable/", "delete/", f"deliveries/{delivery.pk}/resend/"]:
        assert stranger_admin.post(f"{LIST}{endpoint.pk}/{action}").status_code == 404
        assert login(member).post(f"{LIST}{endpoint.pk}/{action}").status_code == 403
        assert login(finance).post(f"{LIST}{endpoint.pk}/{action}").status_code == 403
    assert "vendor-hook" not in stranger_admin.get(LIST).content.decode()
    assert login(member).get(LIST).status_code == 403
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert endpoint.enabled and delivery.status == "failed"
