"""The outbox: an event is written with its change or not at all, and relayed into one delivery per subscriber."""

from typing import Any

import pytest
from django.db import transaction

from core.crypto import secret_encrypt
from core.errors import DomainError
from tests.conftest import Vendor
from webhooks.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from webhooks.services import event_emit, events_emit
from webhooks.services.relay import outbox_relay


def _endpoint(vendor: Vendor, events: list[str], *, enabled: bool = True) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(organization=vendor.organization, url="https://hooks.example.com/tally",
                                          events=events, secret_encrypted=secret_encrypt("whsec_" + "A" * 32), enabled=enabled)


def test_event_is_written_in_the_callers_transaction(vendor: Vendor) -> None:
    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.finalized", data={"invoice_id": 7})
    event = OutboxEvent.objects.get()
    assert event.type == "invoice.finalized" and event.data == {"invoice_id": 7}
    assert event.event_id.startswith("msg_") and event.relayed_at is None


def test_a_rolled_back_change_leaves_no_event(vendor: Vendor) -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.finalized", data={"invoice_id": 7})
        1 / 0  # noqa: B018 - the change fails after announcing itself
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_emitting_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_emit(organization_id=1, type="invoice.finalized", data={})


def test_unknown_type_is_refused_naming_the_field(vendor: Vendor) -> None:
    with pytest.raises(DomainError) as caught, transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.exploded", data={})
    assert caught.value.field == "type"


def test_once_key_announces_once(vendor: Vendor) -> None:
    for _ in range(3):
        with transaction.atomic():
            event_emit(organization_id=vendor.organization.pk, type="invoice.overdue", data={"invoice_id": 1},
                       once_key="invoice.overdue:1")
    assert OutboxEvent.objects.filter(type="invoice.overdue").count() == 1


def test_payload_is_stored_as_json_gives_it_back(vendor: Vendor) -> None:
    from datetime import date
    from decimal import Decimal

    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.paid",
                   data={"total": Decimal("12.50"), "due_date": date(2026, 1, 31)})
    assert OutboxEvent.objects.get().data == {"total": "12.50", "due_date": "2026-01-31"}


def test_relay_makes_one_delivery_per_subscribed_enabled_endpoint_once(vendor: Vendor, stranger: Vendor) -> None:
    invoices = _endpoint(vendor, ["invoice.finalized", "invoice.paid"])
    _endpoint(vendor, ["outcome.verified"])  # not subscribed to invoices
    _endpoint(vendor, ["invoice.finalized"], enabled=False)
    theirs = _endpoint(stranger, ["invoice.finalized"])
    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.finalized", data={"invoice_id": 1})
        event_emit(organization_id=vendor.organization.pk, type="invoice.paid", data={"invoice_id": 1})
    assert outbox_relay() == 2
    assert outbox_relay() == 0
    deliveries = WebhookDelivery.objects.all()
    assert {(d.endpoint_id, d.event.type) for d in deliveries} == {
        (invoices.pk, "invoice.finalized"), (invoices.pk, "invoice.paid")}
    assert not WebhookDelivery.objects.filter(endpoint=theirs).exists()
    assert not OutboxEvent.objects.filter(relayed_at__isnull=True).exists()


def test_many_events_at_once_are_written_in_bulk(vendor: Vendor, django_assert_max_num_queries) -> None:
    items = [(vendor.organization.pk, "outcome.verified", {"outcome_id": n}) for n in range(4500)]
    with django_assert_max_num_queries(6), transaction.atomic():  # savepoint, 3 inserts, 1 lookup, release
        assert events_emit(events=items) == 4500
    assert OutboxEvent.objects.count() == 4500
    assert OutboxEvent.objects.values("event_id").distinct().count() == 4500


def test_old_events_go_with_their_logs_but_never_a_pending_one(vendor: Vendor, settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.services.retention import outbox_prune

    settings.WEBHOOKS_RETENTION_DAYS = 30
    _endpoint(vendor, ["invoice.paid"])
    with transaction.atomic():
        for n in range(3):
            event_emit(organization_id=vendor.organization.pk, type="invoice.paid", data={"invoice_id": n})
    outbox_relay()
    old, pending_old, recent = OutboxEvent.objects.order_by("pk")
    OutboxEvent.objects.filter(pk__in=[old.pk, pending_old.pk]).update(created_at=timezone.now() - timedelta(days=31))
    WebhookDelivery.objects.filter(event__in=[old, recent]).update(status="succeeded")
    assert outbox_prune() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {pending_old.pk, recent.pk}
    assert not WebhookDelivery.objects.filter(event_id=old.pk).exists()
    assert outbox_prune() == 0
