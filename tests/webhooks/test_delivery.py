"""Delivery to a real local receiver: Standard Webhooks signatures that its library verifies, retries with
backoff, the endpoint disabled (and its admins told) after persistent failure, the SSRF guard at delivery."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import Vendor
from tests.webhooks.receiver import Receiver
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import event_emit
from webhooks.services.delivery import deliveries_dispatch_due
from webhooks.services.endpoints import delivery_resend, endpoint_create
from webhooks.services.relay import outbox_relay

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # the receiver listens on 127.0.0.1
    settings.WEBHOOKS_TIMEOUT_SECONDS = 2


@pytest.fixture
def pump(django_capture_on_commit_callbacks: Any) -> Callable[[], int]:
    """What beat and the on-commit hooks do: relay the outbox, queue what is due, run the attempts."""

    def run() -> int:
        outbox_relay()
        with django_capture_on_commit_callbacks(execute=True):
            return deliveries_dispatch_due()

    return run


def _subscribe(vendor: Vendor, receiver: Receiver, events: list[str] | None = None) -> WebhookEndpoint:
    return endpoint_create(organization=vendor.organization, url=receiver.url, events=events or ["invoice.paid"])


def _emit(vendor: Vendor, n: int = 1, type: str = "invoice.paid") -> None:
    for i in range(n):
        with transaction.atomic():
            event_emit(organization_id=vendor.organization.pk, type=type, data={"invoice": {"id": i, "total": "9.50"}})


def test_signatures_verify_with_the_standard_webhooks_library(vendor: Vendor, receiver: Receiver,
                                                              pump: Callable[[], int]) -> None:
    endpoint = _subscribe(vendor, receiver)
    _emit(vendor)
    assert pump() == 1
    [request] = receiver.requests
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "invoice.paid" and payload["data"] == {"invoice": {"id": 0, "total": "9.50"}}
    assert payload["id"] == request.headers["webhook-id"] and request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    # Another endpoint's secret, or a body changed on the way, does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint_create(organization=vendor.organization, url=receiver.url, events=["invoice.paid"]).secret
                ).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"9.50", b"0.01"), request.headers)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.succeeded and attempt.response_excerpt == "status 200 for request 1" and attempt.latency_ms >= 0


def test_a_delivered_event_is_not_sent_again(vendor: Vendor, receiver: Receiver, pump: Callable[[], int]) -> None:
    _subscribe(vendor, receiver)
    _emit(vendor, 3)
    assert pump() == 3
    assert pump() == 0
    assert len(receiver.ids()) == 3 == len(set(receiver.ids()))


def test_an_event_whose_relay_was_lost_is_delivered_by_the_sweep(
    vendor: Vendor, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """The process dies between the commit and its relay: the on-commit hook never runs. Beat's sweep
    (webhooks.relay) finds the event in the outbox and delivers it."""
    from webhooks.tasks import webhooks_relay_task

    _subscribe(vendor, receiver)
    with django_capture_on_commit_callbacks(execute=False) as lost:
        _emit(vendor)
    assert len(lost) == 1 and receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        webhooks_relay_task()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_only_subscribed_types_are_sent(vendor: Vendor, receiver: Receiver, pump: Callable[[], int]) -> None:
    _subscribe(vendor, receiver, events=["outcome.verified"])
    _emit(vendor, 2, type="invoice.paid")
    _emit(vendor, 1, type="outcome.verified")
    pump()
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["outcome.verified"]


def _wait_and_pump(pump: Callable[[], int], deliveries: int, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump()
        if WebhookDelivery.objects.filter(status="pending").count() == 0 or \
                DeliveryAttempt.objects.count() >= deliveries:
            return
        time.sleep(0.05)


def test_a_failing_receiver_is_retried_with_backoff_then_disabled(
    vendor: Vendor, receiver: Receiver, pump: Callable[[], int], settings: Any
) -> None:
    settings.WEBHOOKS_RETRY_DELAYS = [0.3, 0.9, 2.7]  # x3 each time, as the production schedule
    vendor.admin.email = "ops@vendor.example"
    vendor.admin.save()
    receiver.answer = lambda n: 503
    endpoint = _subscribe(vendor, receiver)
    _emit(vendor)
    _wait_and_pump(pump, deliveries=4)
    times = [request.at for request in receiver.requests]
    assert len(times) == 4, "one attempt and three retries"
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for gap, delay in zip(gaps, settings.WEBHOOKS_RETRY_DELAYS, strict=True):
        assert delay <= gap < delay * 1.1 + 0.5, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    assert len(set(receiver.ids())) == 1, "every retry carries the same event id"

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 4, 503)
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [503] * 4
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "4 failed attempts" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == ["ops@vendor.example"] and endpoint.url in message.subject

    # Disabled: new events are not sent; enabled again and resent, the event arrives with its first id.
    _emit(vendor)
    pump()
    assert len(receiver.requests) == 4
    receiver.answer = lambda n: 200
    endpoint.enabled = True
    endpoint.save()
    with transaction.atomic():
        delivery_resend(delivery=delivery)
    pump()
    assert receiver.ids()[-1] == receiver.ids()[0]
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_a_receiver_that_recovers_gets_the_event_and_stays_enabled(
    vendor: Vendor, receiver: Receiver, pump: Callable[[], int], settings: Any
) -> None:
    settings.WEBHOOKS_RETRY_DELAYS = [0.1, 0.1, 0.1]
    receiver.answer = lambda n: 500 if n <= 2 else 204
    endpoint = _subscribe(vendor, receiver)
    _emit(vendor)
    _wait_and_pump(pump, deliveries=3)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_redirects_and_timeouts_count_as_failures(vendor: Vendor, receiver: Receiver, pump: Callable[[], int],
                                                  settings: Any) -> None:
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.3
    receiver.answer = lambda n: 302
    receiver.hang_on, receiver.hang_seconds = 2, 1.0
    _subscribe(vendor, receiver)
    _emit(vendor, 2)
    pump()
    attempts = {a.status_code: a for a in DeliveryAttempt.objects.all()}
    assert not attempts[302].succeeded and "Redirects" in attempts[302].error
    assert not attempts[None].succeeded and "Timeout" in attempts[None].error


def test_a_receiver_that_stalls_mid_answer_is_a_logged_failure(
    vendor: Vendor, receiver: Receiver, pump: Callable[[], int], settings: Any
) -> None:
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    receiver.stall_body, receiver.hang_seconds = True, 2.0
    _subscribe(vendor, receiver)
    _emit(vendor)
    pump()
    [attempt] = DeliveryAttempt.objects.all()
    assert not attempt.succeeded and attempt.status_code is None and "Timeout" in attempt.error
    assert WebhookDelivery.objects.get().status == "pending"  # retried later


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/hooks", "http://localhost:{port}/hooks",
                                 "http://[::ffff:127.0.0.1]:{port}/hooks"])
def test_delivery_refuses_a_host_that_now_resolves_to_loopback(
    vendor: Vendor, receiver: Receiver, pump: Callable[[], int], settings: Any, url: str
) -> None:
    """DNS rebinding: the host passed the check when subscribed, and points at loopback now."""
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint = _subscribe(vendor, receiver)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url.format(port=port))
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    _emit(vendor)
    pump()
    assert receiver.requests == []
    [attempt] = DeliveryAttempt.objects.all()
    assert not attempt.succeeded
    if "[" not in url:  # an IPv4-mapped address may not even connect where IPv6 is off; refused either way
        assert "Refused to deliver to 127.0.0.1, a private or loopback address" in attempt.error
