"""Input no view can hold gets a 4xx naming the parameter, never a 500; CSV cells defuse formulas, not numbers."""

import base64
import csv
import io
import json
from decimal import Decimal

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from core.api.cursor import cursor_decode
from core.api.parsers import MAX_DEPTH
from core.errors import DomainError
from portal.exports import csv_bytes, csv_cell


def _client(raw_key: str) -> Client:
    # Exceptions become the 500 a user would see instead of failing the test before the assertion.
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}", raise_request_exception=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/customers/ac%00me", "path"),
        ("/api/v1/customers/acme/roi?period=2026-0%001", "period"),
        ("/api/v1/invoices?status=%00", "status"),
        ("/api/v1/usage-events?customer=ac%00me", "customer"),
        ("/api/v1/outcome-events/key%00/trace", "path"),
        ("/api/v1/customers?x%00=1", "x\\u0000"),
    ],
)
def test_nul_byte_in_an_api_path_or_query_is_a_400_naming_it(vendor, url: str, parameter: str) -> None:
    response = _client(vendor.api.raw_key).get(url)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert parameter in body["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/customers/ac%00me/", "path"),
        ("/customers/acme/events/?task_id=%00", "task_id"),
        ("/invoices/?status=%00", "status"),
        ("/login/?next=%00", "next"),
    ],
)
def test_nul_byte_in_a_portal_page_is_the_400_page_naming_it(vendor, url: str, parameter: str) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(vendor.admin)

    response = client.get(url)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert f"{parameter} contains a NUL character" in response.content.decode()


@pytest.mark.django_db
def test_nul_byte_in_a_portal_form_post_is_a_400(vendor) -> None:
    client = Client(raise_request_exception=False)

    response = client.post("/login/", {"username": "a\x00b", "password": "x"})

    assert response.status_code == 400
    assert "username contains a NUL character" in response.content.decode()


def _cursor(timestamp: str, row_id: object = 1) -> str:
    return base64.urlsafe_b64encode(json.dumps([timestamp, row_id]).encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("2026-01-01T00:00:00+23:59"),
        _cursor("2026-01-01T00:00:00-23:59"),
        _cursor("0001-01-01T00:00:00+01:00"),
        _cursor("2026-01-01T00:00:00+00:00", 2**63 + 1),
        _cursor("2026-01-01T00:00:00"),
    ],
)
def test_cursor_with_an_offset_or_id_this_api_never_writes_is_a_400_naming_cursor(vendor, cursor: str) -> None:
    response = _client(vendor.api.raw_key).get("/api/v1/usage-events", {"customer": "acme", "cursor": cursor})

    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_cursor_decode_accepts_the_utc_cursor_it_writes() -> None:
    moment, row_id = cursor_decode(_cursor("2026-01-01T00:00:00+00:00", 7))
    assert (moment.isoformat(), row_id) == ("2026-01-01T00:00:00+00:00", 7)
    with pytest.raises(DomainError):
        cursor_decode(_cursor("2026-01-01T00:00:00+23:59", 7))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"day_to": "9999-12-31"},
        {"day_from": "9999-12-31"},
        {"day_from": "0001-01-01"},
        {"day_from": "0001-01-01", "day_to": "9999-12-31"},
    ],
)
def test_extreme_days_on_the_events_filter_are_a_form_error(vendor, query: dict[str, str]) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(vendor.admin)

    page = client.get("/customers/acme/events/", query)
    export = client.get("/customers/acme/events/usage.csv", query)

    assert page.status_code in (200, 400)
    assert "Pick a day" in page.content.decode()
    assert export.status_code < 500


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_naming_body(vendor) -> None:
    client = _client(vendor.api.raw_key)

    for depth in (MAX_DEPTH + 1, 100_000):
        body = "[" * depth + "]" * depth
        response = client.post("/api/v1/customers", body, content_type="application/json")

        assert response.status_code == 400, depth
        assert "body" in response.json()["errors"]


@pytest.mark.django_db
def test_json_nested_within_the_bound_reaches_the_serializer(vendor) -> None:
    body = {"external_id": "deep", "name": "Deep", "currency": "USD", "email": "", "extra": [[[[1]]]]}

    response = _client(vendor.api.raw_key).post("/api/v1/customers", json.dumps(body),
                                                content_type="application/json")

    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "a\u0000b", "name": "Nul", "currency": "USD"}, "external_id"),
        ({"external_id": "a", "name": "Nul", "currency": "USD", "x": [{"y": "\u0000"}]}, "x"),
        ({"external_id\u0000": "a", "name": "Nul", "currency": "USD"}, "body"),
        (["\u0000"], "body"),
    ],
)
def test_nul_character_in_a_json_body_is_a_400_naming_its_field(vendor, body: object, field: str) -> None:
    response = _client(vendor.api.raw_key).post("/api/v1/customers", json.dumps(body),
                                                content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_json_413_naming_body(vendor) -> None:
    body = json.dumps({"external_id": "big", "name": "x" * (10 * 1024 * 1024), "currency": "USD"})

    response = _client(vendor.api.raw_key).post("/api/v1/customers", body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "payload_too_large"
    assert "body" in response.json()["errors"]


# The CSV defuser: formulas become text, numbers stay numbers.

_numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@given(_numbers)
def test_a_plain_number_stays_a_number_in_csv(number: str) -> None:
    assert csv_cell(number) == number
    rows = list(csv.reader(io.StringIO(csv_bytes(["amount"], [[number]]).decode().lstrip("\ufeff"))))
    assert Decimal(rows[1][0]) == Decimal(number)


_formula_start = st.sampled_from(["=", "+", "-", "@", "\t", "\r"])


@given(_formula_start, st.text(min_size=1).filter(lambda rest: not rest[0].isdigit() and rest[0] != "."))
def test_a_cell_led_by_a_formula_character_is_defused(start: str, rest: str) -> None:
    cell = start + rest
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("formula", ["=1+1", "+cmd", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "-1e5+1", "-", "+1",
                                     "=HYPERLINK(\"http://x\")", "-0.99)", "-٣"])
def test_known_formulas_are_defused(formula: str) -> None:
    assert csv_cell(formula) == "'" + formula


@pytest.mark.parametrize("number", ["-0.99", "-1", "0.5", "-.5", "-1E5", "12", "-1234567.8900"])
def test_negative_amounts_stay_numbers(number: str) -> None:
    assert csv_cell(number) == number


@pytest.mark.django_db
def test_a_form_body_over_the_upload_limit_on_the_api_is_a_json_answer(vendor, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client = _client(vendor.api.raw_key)

    response = client.post("/api/v1/customers", "name=" + "x" * 4096,
                           content_type="application/x-www-form-urlencoded")

    assert response["Content-Type"] == "application/json"
    assert response.status_code in (413, 415)


def test_the_api_error_handler_answers_request_data_too_big_with_413_naming_body() -> None:
    from django.core.exceptions import RequestDataTooBig

    from core.api.exceptions import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {})

    assert response is not None and response.status_code == 413
    assert response.data["errors"] == {"body": "The body is over the upload limit."}
