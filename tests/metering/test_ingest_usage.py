import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from metering.models import UsageEvent
from tests.factories import MeterFactory

URL = "/api/v1/usage-events"


def usage(key: str, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "idempotency_key": key, "customer": "acme", "meter": "llm_tokens", "quantity": "1500",
        "timestamp": "2026-10-05T10:00:00Z", "task_id": "ticket-1",
        "properties": {"model": "gpt-4o", "direction": "input"},
    }
    event.update(overrides)
    return event


@pytest.fixture
def meter(vendor):
    return MeterFactory.create(organization=vendor.organization)


def test_batch_keeps_valid_events_rejects_invalid_and_counts_duplicates(vendor, meter) -> None:
    vendor.api.post(URL, {"events": [usage("seen-before")]})
    batch = [
        usage("a"),
        usage("b", quantity="-3"),
        usage("seen-before"),
        usage("c", customer="nobody"),
        usage("d", meter="no_such_meter"),
        usage("e", quantity="lots"),
        usage("f", timestamp=(datetime.now(UTC) + timedelta(minutes=10)).isoformat()),
        usage("a"),  # repeated within the batch
        usage("g", quantity="0.5"),
    ]
    response = vendor.api.post(URL, {"events": batch})

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert body["duplicates"] == 2
    rejected = {item["index"]: item["errors"] for item in body["rejected"]}
    assert set(rejected) == {1, 3, 4, 5, 6}
    assert "quantity" in rejected[1]
    assert "customer" in rejected[3]
    assert "meter" in rejected[4]
    assert "quantity" in rejected[5]
    assert "timestamp" in rejected[6]
    keys = set(UsageEvent.objects.filter(organization=vendor.organization).values_list("idempotency_key", flat=True))
    assert keys == {"seen-before", "a", "g"}


def test_replayed_batch_adds_nothing(vendor, meter) -> None:
    batch = {"events": [usage(f"k{i}", quantity=str(i)) for i in range(50)]}
    first = vendor.api.post(URL, batch).json()
    second = vendor.api.post(URL, batch).json()
    assert (first["accepted"], first["duplicates"]) == (50, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 50)
    assert UsageEvent.objects.filter(organization=vendor.organization).count() == 50


def test_the_same_key_in_two_months_is_stored_once(vendor, meter) -> None:
    vendor.api.post(URL, {"events": [usage("k", timestamp="2026-09-30T23:59:59Z")]})
    body = vendor.api.post(URL, {"events": [usage("k", timestamp="2026-10-01T00:00:00Z")]}).json()
    assert body == {"accepted": 0, "duplicates": 1, "rejected": []}


def test_idempotency_keys_are_per_organization(vendor, stranger, meter) -> None:
    MeterFactory.create(organization=stranger.organization)
    assert vendor.api.post(URL, {"events": [usage("shared")]}).json()["accepted"] == 1
    assert stranger.api.post(URL, {"events": [usage("shared")]}).json()["accepted"] == 1


def test_event_for_a_month_without_partition_is_kept(vendor, meter) -> None:
    body = vendor.api.post(URL, {"events": [usage("old", timestamp="2001-02-03T04:05:06Z")]}).json()
    assert body["accepted"] == 1
    event = UsageEvent.objects.get(idempotency_key="old")
    assert event.timestamp == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_more_than_1000_events_is_413(vendor, meter) -> None:
    response = vendor.api.post(URL, {"events": [usage(f"k{i}") for i in range(1001)]})
    assert response.status_code == 413
    assert "events" in response.json()["errors"]
    assert UsageEvent.objects.count() == 0


def test_gzip_body_is_accepted(vendor, meter) -> None:
    body = gzip.compress(json.dumps({"events": [usage("z1"), usage("z2")]}).encode())
    response = vendor.api.client.post(URL, body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert response.json()["accepted"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [("not json", "body"), (json.dumps([1, 2]), "events"), (json.dumps({"events": "x"}), "events"),
     (json.dumps({"events": [], "extra": 1}), "extra")],
)
def test_malformed_body_is_a_400_naming_the_field(vendor, meter, body, field) -> None:
    response = vendor.api.post(URL, body)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_naive_timestamp_and_unknown_field_are_rejected(vendor, meter) -> None:
    bad = usage("n", timestamp="2026-10-05T10:00:00")
    typo = usage("t")
    typo["taskid"] = typo.pop("task_id")
    body = vendor.api.post(URL, {"events": [bad, typo]}).json()
    assert body["accepted"] == 0
    assert "timestamp" in body["rejected"][0]["errors"]
    assert "taskid" in body["rejected"][1]["errors"]


def test_decimal_quantity_is_stored_exactly(vendor, meter) -> None:
    vendor.api.post(URL, {"events": [usage("d", quantity="0.000000000001")]})
    assert str(UsageEvent.objects.get(idempotency_key="d").quantity.normalize()) == "1E-12"


def test_nul_characters_are_rejected_by_field_not_a_500(vendor, meter) -> None:
    body = ('{"events": [{"idempotency_key": "k\\u0000", "customer": "acme", "meter": "llm_tokens", "quantity": "1", '
            '"timestamp": "2026-10-05T10:00:00Z"}, {"idempotency_key": "fine", "customer": "acme", '
            '"meter": "llm_tokens", "quantity": "1", "timestamp": "2026-10-05T10:00:00Z", '
            '"properties": {"model": "gpt\\u0000"}}, {"idempotency_key": "ok", "customer": "acme", '
            '"meter": "llm_tokens", "quantity": "1", "timestamp": "2026-10-05T10:00:00Z"}]}')
    response = vendor.api.post(URL, body)
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in result["rejected"]] == [(0, ["idempotency_key"]),
                                                                             (1, ["properties"])]


def test_rate_dimensions_with_nul_are_a_400(vendor, meter) -> None:
    response = vendor.api.post("/api/v1/rates", '{"meter": "llm_tokens", "dimensions": {"model": "a\\u0000"}, '
                               '"unit_cost": "1", "currency": "USD", "effective_from": "2026-01-01T00:00:00Z"}')
    assert response.status_code == 400
    assert "dimensions" in response.json()["errors"]


def test_plain_batch_naming_an_unknown_customer_still_keeps_the_others(vendor, meter) -> None:
    body = vendor.api.post(URL, {"events": [usage("p1"), usage("p2", customer="nobody"), usage("p3")]}).json()
    assert body["accepted"] == 2
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(1, ["customer"])]


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=5, minutes=30), -timedelta(hours=8)])
def test_future_timestamp_in_any_offset_is_rejected(vendor, meter, offset) -> None:
    future = (datetime.now(UTC) + timedelta(minutes=10)).astimezone(
        timezone(offset)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    just_past = (datetime.now(UTC) - timedelta(minutes=1)).astimezone(
        timezone(offset)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    body = vendor.api.post(URL, {"events": [usage("now", timestamp=just_past), usage("later", timestamp=future)]}).json()
    assert body["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(1, ["timestamp"])]


def test_a_date_the_calendar_lacks_is_rejected_and_the_rest_kept(vendor, meter) -> None:
    batch = [usage("ok1"), usage("feb30", timestamp="2026-02-30T10:00:00Z"), usage("ok2")]
    response = vendor.api.post(URL, {"events": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(1, ["timestamp"])]
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"ok1", "ok2"}


def test_plain_events_are_stored_as_sent(vendor, meter) -> None:
    bare = usage("bare", quantity="12345678901234567890123456.000000000001", timestamp="2026-10-05T12:30:00.123456+02:00")
    del bare["task_id"], bare["properties"]
    nulled = usage("nulled", task_id=None, properties={})
    assert vendor.api.post(URL, {"events": [bare, nulled]}).json()["accepted"] == 2
    stored = UsageEvent.objects.get(idempotency_key="bare")
    assert stored.quantity == Decimal("12345678901234567890123456.000000000001")
    assert stored.timestamp == datetime(2026, 10, 5, 10, 30, 0, 123456, tzinfo=UTC)
    assert (stored.task_id, stored.properties) == (None, {})
    assert UsageEvent.objects.get(idempotency_key="nulled").task_id is None


def test_strings_with_tabs_newlines_quotes_and_backslashes_are_stored_exactly(vendor, meter) -> None:
    awkward = 'a\tb\nc\\d"e\r\\N'
    event = usage(f"key{awkward}", task_id=awkward, properties={awkward: [awkward, {"x": "\\"}], "ü": "日本"})
    assert vendor.api.post(URL, {"events": [event]}).json()["accepted"] == 1
    stored = UsageEvent.objects.get()
    assert (stored.idempotency_key, stored.task_id) == (f"key{awkward}", awkward)
    assert stored.properties == {awkward: [awkward, {"x": "\\"}], "ü": "日本"}
    assert vendor.api.post(URL, {"events": [event]}).json() == {"accepted": 0, "duplicates": 1, "rejected": []}


def test_numeric_quantity_and_offset_timestamp_take_the_checked_path(vendor, meter) -> None:
    event = usage("num", quantity=2.5, timestamp="2026-10-05T10:00:00+05:30")
    assert vendor.api.post(URL, {"events": [event]}).json()["accepted"] == 1
    stored = UsageEvent.objects.get(idempotency_key="num")
    assert stored.quantity == Decimal("2.5")
    assert stored.timestamp == datetime(2026, 10, 5, 4, 30, tzinfo=UTC)


def test_offsets_postgres_lacks_are_stored_in_utc_and_unspellable_instants_rejected(vendor, meter) -> None:
    batch = [usage("far-east", timestamp="2026-10-05T23:00:00+23:00"), usage("year-one", timestamp="0001-01-01T00:00:00+01:00")]
    response = vendor.api.post(URL, {"events": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(1, ["timestamp"])]
    assert UsageEvent.objects.get(idempotency_key="far-east").timestamp == datetime(2026, 10, 5, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("url", [URL, "/api/v1/outcome-events"])
@pytest.mark.parametrize(("authorization", "status", "code"), [
    (None, 401, "not_authenticated"), ("Bearer not-a-key", 401, "authentication_failed"),
])
def test_batch_posts_refuse_strangers_as_every_api_view_does(db, client, url, authorization, status, code) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    ingest = client.post(url, '{"events": []}', content_type="application/json", **headers)
    other = client.get("/api/v1/meters", **headers)  # a view answered by DRF
    assert (ingest.status_code, ingest.json()["code"]) == (status, code)
    assert (other.status_code, other.json()) == (ingest.status_code, ingest.json())
    assert ingest["WWW-Authenticate"] == other["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_database_itself_refuses_a_second_event_with_a_known_key(vendor, meter) -> None:
    vendor.api.post(URL, {"events": [usage("once")]})
    insert = ("INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, quantity, timestamp, "
              "idempotency_key) VALUES (%s, %s, %s, 1, '2026-03-01T00:00:00Z', %s)")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert, [vendor.organization.pk, vendor.customer.pk, meter.pk, "once"])
    with connection.cursor() as cursor:  # a new key through plain SQL is recorded too
        cursor.execute(insert, [vendor.organization.pk, vendor.customer.pk, meter.pk, "by-hand"])
        cursor.execute("SELECT idempotency_key FROM metering_usagekey ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == ["by-hand", "once"]


def test_raw_utf8_goes_the_plain_way_and_is_stored_exactly(vendor, meter) -> None:
    event = usage("clé-日本-🙂", task_id="tâche-１", properties={"modèle": "gpt-4o", "note": "naïve ☃", "n": [1, 2.5]})
    body = json.dumps({"events": [event]}, ensure_ascii=False).encode()
    assert b"\\" not in body  # no escapes: the plain tier takes it
    assert vendor.api.post(URL, body).json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    stored = UsageEvent.objects.get()
    assert (stored.idempotency_key, stored.task_id) == ("clé-日本-🙂", "tâche-１")
    assert stored.properties == {"modèle": "gpt-4o", "note": "naïve ☃", "n": [1, 2.5]}


def test_a_raw_control_character_in_a_string_is_a_400_not_a_shifted_column(vendor, meter) -> None:
    body = json.dumps({"events": [usage("tab-key")]}).replace("tab-key", "tab\tkey")
    response = vendor.api.post(URL, body)
    assert response.status_code == 400
    assert "body" in response.json()["errors"]
    assert UsageEvent.objects.count() == 0


def test_numbers_json_allows_but_postgres_cannot_store_are_rejected_by_field(vendor, meter) -> None:
    def event(key: str, extra: str) -> str:
        return json.dumps(usage(key)).replace('"direction": "input"', f'"direction": "input", {extra}')

    body = "{\"events\": [" + ", ".join([
        event("big", '"n": 123456789012345678901234567890, "x": [1.5e300]'), event("nan", '"n": NaN'),
        event("inf", '"n": {"deep": -Infinity}'), event("overflow", '"n": 1e400'), event("null", '"n": null'),
    ]) + "]}"
    response = vendor.api.post(URL, body)

    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], list(r["errors"])) for r in result["rejected"]] == [(1, ["properties"]), (2, ["properties"]),
                                                                             (3, ["properties"])]
    stored = {e.idempotency_key: e.properties for e in UsageEvent.objects.all()}
    # jsonb keeps numbers as decimals: 1.5e300 comes back as the integer it denotes
    assert stored["big"]["n"] == 123456789012345678901234567890 and stored["big"]["x"] == [15 * 10**299]
    assert stored["null"]["n"] is None


def raw_batch(quantities: list[str], **overrides: object) -> str:
    """A batch whose quantities are written as given: JSON numbers stay numbers (json.dumps would need floats)."""
    events = [json.dumps(usage(f"q{i}", quantity="Q", **overrides)).replace('"quantity": "Q"', f'"quantity": {quantity}')
              for i, quantity in enumerate(quantities)]
    return '{"events": [' + ", ".join(events) + "]}"


def stored_quantities() -> list[Decimal]:
    return list(UsageEvent.objects.order_by("idempotency_key").values_list("quantity", flat=True))


@pytest.mark.parametrize("offset", ["Z", "+05:30"])  # the plain tier, and the checked tier (an offset it leaves)
def test_integer_and_decimal_json_quantities_are_stored_exactly_and_counted_once(vendor, meter, offset) -> None:
    quantities = ["1200", "0", "99999999999999999999999999", "0.1", "2.5", "12345678901234567890.123456789012"]
    body = raw_batch(quantities, timestamp=f"2026-10-05T10:00:00{offset}")

    assert vendor.api.post(URL, body).json() == {"accepted": 6, "duplicates": 0, "rejected": []}
    assert vendor.api.post(URL, body).json() == {"accepted": 0, "duplicates": 6, "rejected": []}

    assert stored_quantities() == [Decimal(quantity) for quantity in quantities]


def test_string_integer_and_decimal_quantities_mix_in_one_batch(vendor, meter) -> None:
    quantities = ['"1500"', "1500", "0.000000000001", '"2.5"', "7", "1234567890123.123456789012"]
    assert vendor.api.post(URL, raw_batch(quantities)).json() == {"accepted": 6, "duplicates": 0, "rejected": []}
    assert stored_quantities() == [Decimal(quantity.strip('"')) for quantity in quantities]


def test_json_number_quantities_out_of_range_are_rejected_naming_the_field(vendor, meter) -> None:
    quantities = ["-3", "1" + "0" * 26, "1.0000000000001", "NaN", "-Infinity", "1e400", "4", "1e3"]
    response = vendor.api.post(URL, raw_batch(quantities))

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], list(r["errors"])) for r in body["rejected"]] == [(n, ["quantity"]) for n in range(6)]
    assert stored_quantities() == [Decimal(4), Decimal(1000)]


def test_numbers_under_the_quantitys_name_in_properties_stay_numbers(vendor, meter) -> None:
    body = raw_batch(["2.5"], properties={"quantity": 1.5, "unit_quantity": [0.25]})
    assert vendor.api.post(URL, body).json()["accepted"] == 1
    stored = UsageEvent.objects.get()
    assert (stored.quantity, stored.properties) == (Decimal("2.5"), {"quantity": 1.5, "unit_quantity": [0.25]})
