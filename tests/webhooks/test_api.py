"""The endpoints API: subscribe (secret shown once), read, change, delete, the delivery log, resend; scoped."""

import json
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.models import ApiKey
from accounts.services import api_key_create
from tests.conftest import ApiClient, Vendor
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import event_emit
from webhooks.services.relay import outbox_relay

PUBLIC_URL = "https://93.184.215.14/tally-hooks"  # a literal public address: no DNS needed
BASE = "/api/v1/webhook-endpoints"


def _patch(api: ApiClient, path: str, body: Any) -> Any:
    return api.client.patch(path, json.dumps(body), content_type="application/json")


def _create(vendor: Vendor, **body: Any) -> Any:
    return vendor.api.post(BASE, {"url": PUBLIC_URL, "events": ["invoice.finalized"], **body})


def test_subscribe_shows_the_secret_once(vendor: Vendor) -> None:
    created = _create(vendor, events=["invoice.paid", "invoice.finalized", "invoice.paid"])
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["events"] == ["invoice.finalized", "invoice.paid"]
    assert WebhookEndpoint.objects.get().secret == body["secret"]
    listed = vendor.api.get(BASE).json()
    detail = vendor.api.get(f"{BASE}/{body['id']}").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0] and "secret" not in detail
    assert body["secret"] not in json.dumps(listed) + json.dumps(detail)


@pytest.mark.parametrize(("body", "field"), [
    ({"url": PUBLIC_URL, "events": ["invoice.exploded"]}, "events"),
    ({"url": PUBLIC_URL, "events": []}, "events"),
    ({"url": PUBLIC_URL}, "events"),
    ({"url": "not a url", "events": ["invoice.paid"]}, "url"),
    ({"url": "ftp://93.184.215.14/x", "events": ["invoice.paid"]}, "url"),
    ({"url": "https://user:pw@93.184.215.14/x", "events": ["invoice.paid"]}, "url"),
    ({"url": "https://no-such-host.invalid/x", "events": ["invoice.paid"]}, "url"),
])
def test_bad_input_is_a_400_naming_the_field(vendor: Vendor, body: dict[str, Any], field: str) -> None:
    answer = vendor.api.post(BASE, body)
    assert answer.status_code == 400
    assert field in answer.json()["errors"], answer.json()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook", "http://192.168.0.5/hook", "http://[::ffff:127.0.0.1]/hook", "http://localhost/hook",
    "http://0.0.0.0/hook",
])
def test_private_and_loopback_urls_are_refused(vendor: Vendor, url: str) -> None:
    answer = vendor.api.post(BASE, {"url": url, "events": ["invoice.paid"]})
    assert answer.status_code == 400
    assert "private or loopback" in answer.json()["errors"]["url"]


def test_private_urls_are_accepted_when_the_setting_allows(vendor: Vendor, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert vendor.api.post(BASE, {"url": "http://127.0.0.1:9/hook", "events": ["invoice.paid"]}).status_code == 201


def test_patch_changes_events_and_disables_then_enables(vendor: Vendor) -> None:
    endpoint_id = _create(vendor).json()["id"]
    changed = _patch(vendor.api, f"{BASE}/{endpoint_id}", {"events": ["outcome.verified"], "enabled": False})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["events"] == ["outcome.verified"] and changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"]
    enabled = _patch(vendor.api, f"{BASE}/{endpoint_id}", {"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] == "" and enabled["disabled_at"] is None
    assert _patch(vendor.api, f"{BASE}/{endpoint_id}", {"events": ["nope"]}).status_code == 400
    assert _patch(vendor.api, f"{BASE}/{endpoint_id}", {"url": "http://10.0.0.1/"}).json()["errors"]["url"]


def test_delete_removes_the_endpoint(vendor: Vendor) -> None:
    endpoint_id = _create(vendor).json()["id"]
    assert vendor.api.client.delete(f"{BASE}/{endpoint_id}").status_code == 204
    assert vendor.api.get(f"{BASE}/{endpoint_id}").status_code == 404


def _delivered_event(vendor: Vendor, endpoint_id: int) -> WebhookDelivery:
    with transaction.atomic():
        event_emit(organization_id=vendor.organization.pk, type="invoice.finalized", data={"invoice_id": 1})
    outbox_relay()
    return WebhookDelivery.objects.get(endpoint_id=endpoint_id)


def test_delivery_log_lists_deliveries_and_pages(vendor: Vendor, django_assert_max_num_queries: Any) -> None:
    endpoint_id = _create(vendor).json()["id"]
    for n in range(3):
        with transaction.atomic():
            event_emit(organization_id=vendor.organization.pk, type="invoice.finalized", data={"invoice_id": n})
    outbox_relay()
    with django_assert_max_num_queries(8):
        page = vendor.api.get(f"{BASE}/{endpoint_id}/deliveries", limit=2).json()
    assert [d["status"] for d in page["results"]] == ["pending", "pending"]
    assert page["results"][0]["event_type"] == "invoice.finalized"
    assert page["results"][0]["event_id"].startswith("msg_") and page["results"][0]["attempt_log"] == []
    rest = vendor.api.get(f"{BASE}/{endpoint_id}/deliveries", limit=2, before=page["next_before"]).json()
    assert len(rest["results"]) == 1 and rest["next_before"] is None
    assert vendor.api.get(f"{BASE}/{endpoint_id}/deliveries", status="succeeded").json()["results"] == []
    assert vendor.api.get(f"{BASE}/{endpoint_id}/deliveries", limit=0).status_code == 400


def test_resend_puts_a_failed_delivery_back_on_schedule(vendor: Vendor) -> None:
    endpoint_id = _create(vendor).json()["id"]
    delivery = _delivered_event(vendor, endpoint_id)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8, next_attempt_at=None)
    answer = vendor.api.post(f"{BASE}/{endpoint_id}/deliveries/{delivery.pk}/resend")
    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] == "pending" and answer.json()["attempts"] == 0
    _patch(vendor.api, f"{BASE}/{endpoint_id}", {"enabled": False})
    refused = vendor.api.post(f"{BASE}/{endpoint_id}/deliveries/{delivery.pk}/resend")
    assert refused.status_code == 409 and "disabled" in refused.json()["detail"]


def test_another_organization_gets_404_everywhere(vendor: Vendor, stranger: Vendor) -> None:
    endpoint_id = _create(vendor).json()["id"]
    delivery = _delivered_event(vendor, endpoint_id)
    paths = [f"{BASE}/{endpoint_id}", f"{BASE}/{endpoint_id}/deliveries"]
    for path in paths:
        assert stranger.api.get(path).status_code == 404
    assert _patch(stranger.api, f"{BASE}/{endpoint_id}", {"enabled": False}).status_code == 404
    assert stranger.api.client.delete(f"{BASE}/{endpoint_id}").status_code == 404
    assert stranger.api.post(f"{BASE}/{endpoint_id}/deliveries/{delivery.pk}/resend").status_code == 404
    assert stranger.api.get(BASE).json() == []
    # The stranger's own endpoint cannot reach the vendor's delivery either.
    theirs = _create(stranger).json()["id"]
    assert stranger.api.post(f"{BASE}/{theirs}/deliveries/{delivery.pk}/resend").status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint_id).enabled is True


def test_read_key_reads_but_cannot_subscribe(vendor: Vendor) -> None:
    _, raw = api_key_create(organization=vendor.organization, scope=ApiKey.Scope.READ)
    reader = ApiClient(raw)
    assert reader.get(BASE).status_code == 200
    assert reader.post(BASE, {"url": PUBLIC_URL, "events": ["invoice.paid"]}).status_code == 403


def test_event_types_are_listed(vendor: Vendor) -> None:
    types = [row["type"] for row in vendor.api.get("/api/v1/webhook-event-types").json()]
    assert "invoice.paid" in types and len(types) == 12 and "task.budget_exceeded" in types


def test_the_signing_secret_is_stored_encrypted_and_still_signs(vendor: Vendor) -> None:
    body = _create(vendor).json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM webhooks_webhookendpoint WHERE id = %s", [body["id"]])
        stored = cursor.fetchone()[0]
    assert body["secret"] not in stored and body["secret"][6:] not in stored  # not the secret, nor its key part
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]  # what deliveries are signed with
