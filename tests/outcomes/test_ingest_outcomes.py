import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from outcomes.models import OutcomeEvent, OutcomeTransition
from tests.factories import OutcomeTypeFactory

URL = "/api/v1/outcome-events"


def outcome(key: str, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "idempotency_key": key, "customer": "acme", "outcome": "ticket_resolved", "task_id": "ticket-1",
        "timestamp": "2026-10-05T10:00:00Z",
    }
    event.update(overrides)
    return event


@pytest.fixture
def outcome_type(vendor):
    return OutcomeTypeFactory.create(organization=vendor.organization, verification_window_hours=48)


def test_outcome_batch_keeps_valid_and_rejects_invalid(vendor, outcome_type) -> None:
    batch = [outcome("o1"), outcome("o2", outcome="nope"), outcome("o3", task_id=""), outcome("o1"),
             {"idempotency_key": "o4", "customer": "acme", "outcome": "ticket_resolved", "timestamp": "2026-10-05T10:00:00Z"}]
    body = vendor.api.post(URL, {"events": batch}).json()
    assert body["accepted"] == 1
    assert body["duplicates"] == 1
    rejected = {item["index"]: item["errors"] for item in body["rejected"]}
    assert "outcome" in rejected[1]
    assert "task_id" in rejected[2]
    assert "task_id" in rejected[4]
    event = OutcomeEvent.objects.get(idempotency_key="o1")
    assert event.status == OutcomeEvent.Status.PENDING
    assert event.verifiable_at is not None
    assert (event.verifiable_at - event.timestamp).total_seconds() == 48 * 3600


def test_replayed_outcomes_add_nothing(vendor, outcome_type) -> None:
    batch = {"events": [outcome(f"o{i}", task_id=f"t{i}") for i in range(20)]}
    assert vendor.api.post(URL, batch).json()["accepted"] == 20
    assert vendor.api.post(URL, batch).json() == {"accepted": 0, "duplicates": 20, "rejected": []}
    assert OutcomeEvent.objects.count() == 20


def test_reversal_is_recorded_and_idempotent(vendor, outcome_type) -> None:
    vendor.api.post(URL, {"events": [outcome("o1")]})
    response = vendor.api.post(f"{URL}/o1/reverse", {"reason": "ticket reopened"})
    assert response.status_code == 200
    assert response.json()["status"] == "reversed"
    assert vendor.api.post(f"{URL}/o1/reverse", {"reason": "again"}).status_code == 200
    transitions = list(OutcomeTransition.objects.values_list("from_status", "to_status", "reason"))
    assert transitions == [("pending", "reversed", "ticket reopened")]


def test_reversal_needs_a_reason_and_a_known_key(vendor, stranger, outcome_type) -> None:
    vendor.api.post(URL, {"events": [outcome("o1")]})
    response = vendor.api.post(f"{URL}/o1/reverse", {})
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert vendor.api.post(f"{URL}/missing/reverse", {"reason": "x"}).status_code == 404
    assert stranger.api.post(f"{URL}/o1/reverse", {"reason": "x"}).status_code == 404
    assert OutcomeEvent.objects.get(idempotency_key="o1").reversed_at is None


def test_outcome_times_are_kept_in_utc_whatever_the_offset(vendor, outcome_type) -> None:
    batch = [outcome("east", timestamp="2026-10-05T23:00:00+23:00"), outcome("y1", timestamp="0001-01-01T00:00:00+01:00")]
    response = vendor.api.post(URL, {"events": batch})
    assert response.status_code == 200
    assert [(r["index"], list(r["errors"])) for r in response.json()["rejected"]] == [(1, ["timestamp"])]
    event = OutcomeEvent.objects.get(idempotency_key="east")
    assert event.timestamp == datetime(2026, 10, 5, 0, 0, tzinfo=UTC)
    assert event.verifiable_at == datetime(2026, 10, 7, 0, 0, tzinfo=UTC)


def test_outcome_properties_keep_big_integers_and_refuse_nan(vendor, outcome_type) -> None:
    body = ('{"events": [' + json.dumps(outcome("big", properties={"ticket": 1})).replace('"ticket": 1', '"ticket": 98765432109876543210987')
            + ", " + json.dumps(outcome("nan", properties={"score": 1})).replace('"score": 1', '"score": NaN') + "]}")
    response = vendor.api.post(URL, body)
    assert response.status_code == 200
    assert [(r["index"], list(r["errors"])) for r in response.json()["rejected"]] == [(1, ["properties"])]
    assert OutcomeEvent.objects.get(idempotency_key="big").properties == {"ticket": 98765432109876543210987}


def test_plain_outcomes_get_their_verification_time_from_the_time_as_sent(vendor, outcome_type) -> None:
    batch = [outcome("utc", timestamp="2026-10-05T10:00:00.250000Z"),
             outcome("offset", task_id="tâche-1", timestamp="2026-10-05T10:00:00+02:00", properties={"n": "é"})]
    body = json.dumps({"events": batch}, ensure_ascii=False).encode()
    assert b"\\" not in body  # the plain tier takes it
    assert vendor.api.post(URL, body).json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert vendor.api.post(URL, body).json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    offset = OutcomeEvent.objects.get(idempotency_key="offset")
    assert offset.timestamp == datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    assert offset.verifiable_at == datetime(2026, 10, 7, 8, 0, tzinfo=UTC)
    assert (offset.task_id, offset.properties, offset.status) == ("tâche-1", {"n": "é"}, OutcomeEvent.Status.PENDING)
    assert OutcomeEvent.objects.get(idempotency_key="utc").timestamp == datetime(2026, 10, 5, 10, 0, 0, 250000,
                                                                                tzinfo=UTC)


def test_plain_outcome_batches_with_a_bad_date_or_a_future_time_keep_the_good_events(vendor, outcome_type) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    batch = [outcome("good"), outcome("feb30", timestamp="2026-02-30T10:00:00Z"),
             outcome("later", timestamp=future[:19] + future[-6:])]
    response = vendor.api.post(URL, {"events": batch})
    assert response.status_code == 200
    assert [(r["index"], list(r["errors"])) for r in response.json()["rejected"]] == [(1, ["timestamp"]),
                                                                                     (2, ["timestamp"])]
    assert list(OutcomeEvent.objects.values_list("idempotency_key", flat=True)) == ["good"]
