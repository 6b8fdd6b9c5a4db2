"""How usage rollups are grouped: the rate card's shape, and the SQL expressions that place an event.

An event's rated dimension is what metering.selectors.task_costs groups it by before looking up its
rate: its properties restricted to the organization's rate dimension keys (`dims`), and the rate
version its timestamp falls in (`asof`: the latest rate boundary at or before it within its period,
else the period's start). Grouping rollups the same way keeps their cost equal, to the digit, to the
cost computed from the raw events. The grouping depends on the rate card's keys and boundaries (its
shape), not on its prices: a new price at an existing boundary needs nothing, a new boundary regroups
the period holding it (rollups.services re-rates it).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from core.periods import Period


@dataclass(frozen=True)
class RateShape:
    keys: tuple[str, ...]
    boundaries: tuple[datetime, ...]
    # Whether any meter aggregates "latest": only then does the fold order each group's rows to find its
    # latest quantity (a sort per group, the fold's dearest step), else it keeps the group's last time.
    latest: bool = False

    def as_json(self) -> dict[str, object]:
        return {"keys": list(self.keys), "boundaries": [b.isoformat() for b in self.boundaries],
                "latest": self.latest}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RateShape":
        return cls(tuple(data["keys"]), tuple(datetime.fromisoformat(b) for b in data["boundaries"]),
                   bool(data.get("latest", False)))

    def periods_regrouped_by(self, other: "RateShape") -> set[Period] | None:
        """The periods whose grouping differs between the two shapes; None when every period's does."""
        if self.keys != other.keys or self.latest != other.latest:
            return None
        return {Period.of(b) for b in set(self.boundaries) ^ set(other.boundaries)}


def rate_shape(*, organization_id: int) -> RateShape:
    """The organization's rate dimension keys and rate boundaries, read as task_costs reads them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT coalesce(array_agg(DISTINCT k COLLATE "C" ORDER BY k COLLATE "C"), '{}')
               FROM metering_rate r, jsonb_object_keys(r.dimensions) k WHERE r.organization_id = %s""",
            [organization_id],
        )
        keys = tuple(cursor.fetchone()[0])
        cursor.execute(
            "SELECT DISTINCT effective_from FROM metering_rate WHERE organization_id = %s ORDER BY 1",
            [organization_id],
        )
        boundaries = tuple(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT EXISTS (SELECT FROM metering_meter WHERE organization_id = %s"
                       " AND aggregation = 'latest')", [organization_id])
        latest = bool(cursor.fetchone()[0])
    return RateShape(keys, boundaries, latest)


PERIOD_SQL = "date_trunc('month', e.timestamp AT TIME ZONE 'UTC')::date"
_PERIOD_AT_SQL = "(date_trunc('month', e.timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def dims_sql(shape: RateShape) -> tuple[str, dict[str, str]]:
    """`dims` of an event `e`, built as task_costs builds it (same expression, same value)."""
    if not shape.keys:
        return "'{}'::jsonb", {}
    pairs = ", ".join(f"%(key{i})s::text, e.properties -> %(key{i})s::text" for i in range(len(shape.keys)))
    return f"jsonb_strip_nulls(jsonb_build_object({pairs}))", {f"key{i}": key for i, key in enumerate(shape.keys)}


def asof_sql(shape: RateShape) -> tuple[str, dict[str, datetime]]:
    """`asof` of an event `e`: the latest boundary at or before it, but never before its period's start."""
    if not shape.boundaries:
        return _PERIOD_AT_SQL, {}
    names = [f"boundary{i}" for i in range(len(shape.boundaries))]
    whens = " ".join(f"WHEN e.timestamp >= %({name})s THEN %({name})s::timestamptz" for name in reversed(names))
    return f"greatest({_PERIOD_AT_SQL}, CASE {whens} END)", dict(zip(names, shape.boundaries, strict=True))


def dims_two_stage_sql(shape: RateShape) -> tuple[list[str], str, dict[str, str]]:
    """For folding in two stages: the raw value of each key per event (grouped by first, a finer grouping),
    and `dims` built from them once per group of the first stage (alias `s`): building the object for
    every event was most of the fold's cost."""
    if not shape.keys:
        return [], "'{}'::jsonb", {}
    values = [f"e.properties -> %(key{i})s::text" for i in range(len(shape.keys))]
    pairs = ", ".join(f"%(key{i})s::text, s.v{i}" for i in range(len(shape.keys)))
    return values, f"jsonb_strip_nulls(jsonb_build_object({pairs}))", {
        f"key{i}": key for i, key in enumerate(shape.keys)
    }


def latest_sql(shape: RateShape, alias: str = "e") -> tuple[str, str]:
    """(latest quantity, latest id) of a group of events: ordered only when some meter needs it."""
    if not shape.latest:
        return "0::numeric", f"max({alias}.id)"
    order = f"ORDER BY {alias}.timestamp DESC, {alias}.id DESC"
    return f"(array_agg({alias}.quantity {order}))[1]", f"(array_agg({alias}.id {order}))[1]"
