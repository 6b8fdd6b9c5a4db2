"""While the database is away the API answers 503 with Retry-After, and a broken connection is replaced
by the next request instead of failing requests until it ages out (in-process; the restart of a real
cluster is in test_postgres_restart.py)."""

from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection

from metering.api import views as metering_views
from tests.factories import MeterFactory

USAGE = {"events": [{"idempotency_key": "u1", "customer": "acme", "meter": "llm_tokens", "quantity": "10",
                     "timestamp": "2026-10-10T12:00:00Z", "task_id": "t1", "properties": {"model": "gpt-4o"}}]}


@pytest.mark.django_db
def test_ingestion_answers_503_with_retry_after_while_the_database_is_away(vendor) -> None:
    with mock.patch.object(metering_views.UsageEventListApi, "ingest",
                           side_effect=OperationalError("connection refused")):
        response = vendor.api.post("/api/v1/usage-events", USAGE)

    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert response.json()["code"] == "unavailable"


@pytest.mark.django_db
def test_a_raw_psycopg_connection_error_is_a_503_too(vendor) -> None:
    with mock.patch.object(metering_views.UsageEventListApi, "ingest",
                           side_effect=psycopg.OperationalError("server closed the connection unexpectedly")):
        response = vendor.api.post("/api/v1/usage-events", USAGE)

    assert response.status_code == 503
    assert response["Retry-After"]


@pytest.mark.django_db
def test_any_api_route_answers_503_with_retry_after_while_the_database_is_away(vendor) -> None:
    away = OperationalError("the database system is shutting down")
    with mock.patch.object(metering_views.MeterListApi, "get", side_effect=away):
        response = vendor.api.get("/api/v1/meters")

    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["code"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_at_the_start_of_the_next_request(vendor) -> None:
    MeterFactory.create(organization=vendor.organization)
    assert vendor.api.post("/api/v1/usage-events", USAGE).status_code == 200  # names and key now cached
    _server_drops_our_connection()  # as a restart does, between two requests

    close_old_connections()  # what every request starts with outside the test client (request_started)
    response = vendor.api.post("/api/v1/usage-events", _event("u2"))

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_mid_request_answers_503_once_and_the_next_request_reconnects(vendor) -> None:
    MeterFactory.create(organization=vendor.organization)
    assert vendor.api.post("/api/v1/usage-events", USAGE).status_code == 200
    _server_drops_our_connection()  # after the request's health check: the COPY finds it dead

    first = vendor.api.post("/api/v1/usage-events", _event("u2"))
    second = vendor.api.post("/api/v1/usage-events", _event("u2"))

    assert first.status_code == 503 and first["Retry-After"], first.content
    assert second.status_code == 200, second.content
    assert second.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


def _event(key: str) -> dict[str, object]:
    return {"events": [dict(USAGE["events"][0], idempotency_key=key)]}


def _server_drops_our_connection() -> None:
    with psycopg.connect(**_admin_params()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])


def _admin_params() -> dict[str, Any]:
    settings = connection.settings_dict
    params = {"dbname": settings["NAME"], "user": settings["USER"], "host": settings["HOST"]}
    if settings["PORT"]:
        params["port"] = settings["PORT"]
    if settings["PASSWORD"]:
        params["password"] = settings["PASSWORD"]
    return params
