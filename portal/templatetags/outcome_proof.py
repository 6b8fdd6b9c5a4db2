"""`{% outcome_proofs lines as proofs %}`: the assurance and evidence of the outcomes a page of invoice
lines bills, in one query (outcomes.selectors.outcome_evidence), for itemizations that show them."""

from collections.abc import Iterable
from typing import Any

from django import template

from outcomes.selectors import OutcomeProof, outcome_evidence

register = template.Library()


@register.simple_tag
def outcome_proofs(lines: Iterable[Any]) -> dict[int, OutcomeProof]:
    events = [line.outcome_event for line in lines if line.outcome_event_id is not None]
    if not events:
        return {}
    return outcome_evidence(organization_id=events[0].organization_id, events=events)
