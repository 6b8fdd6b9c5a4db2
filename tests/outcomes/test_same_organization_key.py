"""The outcome event table is keyed by (organization_id, id) (outcomes 0006): a reference to an event joins
and fetches it by both columns, so the key finds it (by id alone, PostgreSQL reads the whole table)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outcomes.enums import OutcomeStatus
from outcomes.models import OutcomeEvent, OutcomeTransition
from outcomes.services import outcome_events_move
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved(vendor) -> OutcomeTransition:
    OutcomeTypeFactory.create(organization=vendor.organization)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 1))
    event = OutcomeEvent.objects.get()
    outcome_events_move(organization_id=vendor.organization.pk, event_ids=[event.pk],
                        from_statuses=[OutcomeStatus.PENDING], to_status=OutcomeStatus.VERIFIED, reason="checked",
                        actor_label="system")
    return OutcomeTransition.objects.get()


def test_a_join_to_the_event_matches_the_organization_too(moved) -> None:
    sql = str(OutcomeTransition.objects.select_related("outcome_event").query)
    assert '"outcomes_outcomeevent"."organization_id" = ("outcomes_outcometransition"."organization_id")' in sql


def test_fetching_the_event_of_a_row_names_its_organization(moved) -> None:
    transition = OutcomeTransition.objects.get()
    with CaptureQueriesContext(connection) as queries:
        assert transition.outcome_event.pk == moved.outcome_event_id
    [query] = queries.captured_queries
    assert f'"outcomes_outcomeevent"."organization_id" = {moved.organization_id}' in query["sql"]

