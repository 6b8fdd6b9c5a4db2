"""The reference to an outcome event: the event table's key is (organization_id, id) (outcomes 0006), so a
lookup by id alone reads the whole table (and, on Citus, every shard). A model whose rows reference an
event has an organization_id of its own, the event's (the composite foreign key in the database holds
them to it); this field makes every join to or from the event, and every `row.outcome_event` fetch, name
it too, so the key serves them."""

from typing import Any

from django.db import models
from django.db.models.lookups import Exact
from django.db.models.sql.where import AND, WhereNode


class SameOrganizationForeignKey(models.ForeignKey):
    """A ForeignKey whose joins and fetches also match organization_id on both sides. Both models must have
    an `organization` field. Prefetches by id (`prefetch_related("outcome_event")`) still need a queryset
    filtered by the organization (`Prefetch(..., queryset=...)`)."""

    def get_extra_restriction(self, alias: str, related_alias: str) -> WhereNode:
        # `alias` is the referenced table's (the event's), `related_alias` the referencing table's.
        target = self.remote_field.model._meta.get_field("organization")
        source = self.model._meta.get_field("organization")
        assert isinstance(target, models.Field) and isinstance(source, models.Field)
        lookup = Exact(target.get_col(alias), source.get_col(related_alias))
        return WhereNode([lookup], connector=AND)  # type: ignore[list-item]  # a lookup is a valid child

    def get_extra_descriptor_filter(self, instance: models.Model) -> dict[str, Any]:
        return {"organization_id": instance.organization_id}  # type: ignore[attr-defined]
