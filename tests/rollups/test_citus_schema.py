"""The event and rollup tables are ready to be distributed by organization (Citus): every key and index
leads with organization_id, no foreign key leaves them for another table, and a foreign key between two
of them, or into them from another table (an invoice line, a dispute, a piece of evidence referencing its
outcome event), leads with organization_id, so the two rows are of one organization and co-located.
Checked in the catalog, so a migration that breaks it fails here. The statement triggers with transition
tables Citus refuses (the usage key trigger, metering 0004; the outcome-count triggers, rollups 0001) are
known and documented in docs/scaling.md with their replacement; a new one fails."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

TABLES = [
    "metering_usageevent", "metering_usagekey", "metering_usageretention", "rollups_usage", "rollups_usage_value",
    "rollups_usage_daily", "rollups_customer_period", "rollups_cursor", "rollups_outcome_count",
    "rollups_outcome_delta", "rollups_draft_stamp", "outcomes_outcomeevent", "outcomes_outcometransition",
]
KNOWN_TRANSITION_TRIGGERS = {
    ("metering_usageevent", "metering_usageevent_record_keys"),
    ("outcomes_outcomeevent", "rollups_outcome_inserted"),
    ("outcomes_outcomeevent", "rollups_outcome_updated"),
    ("outcomes_outcomeevent", "rollups_outcome_deleted"),
}


def _rows(sql: str) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"tables": TABLES})
        return list(cursor.fetchall())


def test_every_index_of_the_event_and_rollup_tables_leads_with_the_organization() -> None:
    indexes = _rows("""
        SELECT t.relname, i.relname, a.attname FROM pg_index x
        JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
        WHERE t.relname = ANY(%(tables)s)
    """)
    assert {table for table, _, _ in indexes} == set(TABLES)  # every table has a key or an index
    assert [(table, index) for table, index, first in indexes if first != "organization_id"] == []


def test_every_key_leads_with_the_organization_and_no_foreign_key_leaves_the_tables() -> None:
    constraints = _rows("""
        SELECT t.relname, c.conname || ' (' || c.contype::text || ')', a.attname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[1]
        WHERE t.relname = ANY(%(tables)s) AND c.contype IN ('p', 'u', 'f', 'x')
    """)
    assert {table for table, _, _ in constraints} >= {"outcomes_outcomeevent", "outcomes_outcometransition"}
    assert [(table, name) for table, name, first in constraints if first != "organization_id"] == []
    leaving = _rows("""
        SELECT t.relname, c.conname, r.relname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
        WHERE t.relname = ANY(%(tables)s) AND c.contype = 'f' AND NOT r.relname = ANY(%(tables)s)
    """)
    assert leaving == []


def test_foreign_keys_into_the_tables_lead_with_the_organization() -> None:
    referencing = _rows("""
        SELECT t.relname, c.conname, a.attname || ' -> ' || ra.attname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[1]
        JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = c.confkey[1]
        WHERE r.relname = ANY(%(tables)s) AND c.contype = 'f'
    """)
    # The outcome event is referenced by its lines, disputes, evidence and transitions, each by both columns.
    assert {table for table, _, _ in referencing} == {
        "billing_invoiceline", "outcomes_dispute", "outcomes_outcomeevidence", "outcomes_outcometransition"}
    assert [(table, name) for table, name, columns in referencing
            if columns != "organization_id -> organization_id"] == []


def test_no_new_transition_table_trigger_on_the_event_and_rollup_tables() -> None:
    triggers = _rows("""
        SELECT c.relname, t.tgname, '' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relname = ANY(%(tables)s) AND NOT t.tgisinternal
          AND (t.tgnewtable IS NOT NULL OR t.tgoldtable IS NOT NULL)
    """)
    assert {(table, name) for table, name, _ in triggers} == KNOWN_TRANSITION_TRIGGERS
