"""The admin lists the outbox, endpoints and deliveries for ops; records are read-only, the secret hidden."""

import pytest
from django.db import transaction
from django.test import Client

from tests.conftest import Vendor
from tests.factories import UserFactory
from webhooks.models import WebhookDelivery
from webhooks.services import event_emit
from webhooks.services.endpoints import endpoint_create
from webhooks.services.relay import outbox_relay

pytestmark = pytest.mark.django_db


def test_admin_pages_show_records_read_only_and_never_the_secret(vendor: Vendor) -> None:
    endpoint = endpoint_create(organization=vendor.organization, url="https://93.184.215.14/h", events=["invoice.paid"])
    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.paid", data={"invoice": {"id": 1}})
    outbox_relay()
    delivery = WebhookDelivery.objects.get()
    client = Client()
    client.force_login(UserFactory.create(username="ops", is_staff=True, is_superuser=True))
    for path in ["/admin/webhooks/outboxevent/", "/admin/webhooks/webhookendpoint/", "/admin/webhooks/webhookdelivery/",
                 f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
                 f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert endpoint.secret not in answer.content.decode()
    assert client.get("/admin/webhooks/outboxevent/add/").status_code == 403
    assert client.post(f"/admin/webhooks/webhookdelivery/{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
