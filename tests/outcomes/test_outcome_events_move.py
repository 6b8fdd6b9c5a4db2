"""outcome_events_move: the one writer of many outcome statuses (verification, finalizing, voiding, credit notes)."""

import pytest

from outcomes.enums import OutcomeStatus
from outcomes.models import OutcomeEvent, OutcomeTransition
from outcomes.services import outcome_events_move
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import OutcomeTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_pending(vendor) -> list[int]:
    OutcomeTypeFactory.create(organization=vendor.organization)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    return list(OutcomeEvent.objects.order_by("pk").values_list("pk", flat=True))


def test_only_events_still_in_a_from_status_move_each_with_one_transition(vendor, three_pending) -> None:
    first, second, third = three_pending
    OutcomeEvent.objects.filter(pk=third).update(status=OutcomeStatus.REVERSED)

    moved = outcome_events_move(organization_id=vendor.organization.pk, event_ids=three_pending, from_statuses=[OutcomeStatus.PENDING],
                                to_status=OutcomeStatus.VERIFIED, reason="checked", actor_label="system")

    assert moved == 2
    assert dict(OutcomeEvent.objects.values_list("pk", "status")) == {
        first: "verified", second: "verified", third: "reversed"}
    assert sorted(OutcomeTransition.objects.values_list("outcome_event_id", "from_status", "to_status", "reason",
                                                        "actor_label")) == [
        (first, "pending", "verified", "checked", "system"), (second, "pending", "verified", "checked", "system")]


def test_moving_twice_moves_nothing_the_second_time(vendor, three_pending) -> None:
    def move() -> int:
        return outcome_events_move(organization_id=vendor.organization.pk, event_ids=three_pending, from_statuses=[OutcomeStatus.PENDING],
                                   to_status=OutcomeStatus.VERIFIED, reason="checked", actor_label="system")

    assert move() == 3
    assert move() == 0
    assert OutcomeTransition.objects.count() == 3


def test_no_events_is_a_no_op(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert outcome_events_move(organization_id=1, event_ids=[], from_statuses=[OutcomeStatus.PENDING],
                                   to_status=OutcomeStatus.VERIFIED, reason="", actor_label="system") == 0


def test_the_status_vocabulary_is_the_models() -> None:
    assert OutcomeStatus.choices == OutcomeEvent.Status.choices
