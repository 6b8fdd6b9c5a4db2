"""The event and rollup tables are ready to be distributed by organization (Citus): every key and index
leads with organization_id, and no foreign key leaves them. Checked in the catalog, so a migration that
breaks it fails here. The one statement trigger with transition tables Citus refuses (the usage key
trigger, metering 0004) is known and documented in docs/scaling.md with its replacement; a new one fails."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

TABLES = [
    "metering_usageevent", "metering_usagekey", "metering_usageretention", "rollups_usage", "rollups_usage_value",
    "rollups_usage_daily", "rollups_customer_period", "rollups_cursor", "rollups_outcome_count",
    "rollups_outcome_delta", "rollups_draft_stamp",
]
KNOWN_TRANSITION_TRIGGERS = {("metering_usageevent", "metering_usageevent_record_keys")}


def _rows(sql: str) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [TABLES])
        return list(cursor.fetchall())


def test_every_index_of_the_event_and_rollup_tables_leads_with_the_organization() -> None:
    indexes = _rows("""
        SELECT t.relname, i.relname, a.attname FROM pg_index x
        JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
        WHERE t.relname = ANY(%s)
    """)
    assert {table for table, _, _ in indexes} == set(TABLES)  # every table has a key or an index
    assert [(table, index) for table, index, first in indexes if first != "organization_id"] == []


def test_every_key_leads_with_the_organization_and_no_foreign_key_leaves_the_tables() -> None:
    constraints = _rows("""
        SELECT t.relname, c.conname || ' (' || c.contype::text || ')', a.attname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[1]
        WHERE t.relname = ANY(%s) AND c.contype IN ('p', 'u', 'f', 'x')
    """)
    assert [(table, name) for table, name, first in constraints if first != "organization_id"] == []
    assert [(table, name) for table, name, _ in constraints if name.endswith("(f)")] == []
    referencing = _rows("""
        SELECT t.relname, c.conname, r.relname FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
        WHERE r.relname = ANY(%s) AND c.contype = 'f'
    """)
    assert referencing == []


def test_no_new_transition_table_trigger_on_the_event_and_rollup_tables() -> None:
    triggers = _rows("""
        SELECT c.relname, t.tgname, '' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relname = ANY(%s) AND NOT t.tgisinternal
          AND (t.tgnewtable IS NOT NULL OR t.tgoldtable IS NOT NULL)
    """)
    assert {(table, name) for table, name, _ in triggers} == KNOWN_TRANSITION_TRIGGERS
